//go:build !edgetuf_pkcs11

package main

import "github.com/edgetuf/edgetuf/internal/cliutil"

// features are the optional capabilities `mclient --version` reports.
// Without the edgetuf_pkcs11 build tag mclient has no PKCS#11 support (for
// a device key kept in a token: pkcs11: references are
// DEVICE_KEY_UNAVAILABLE, "not built into this program");
// version_pkcs11.go is that build's file.
var features = []cliutil.Feature{{Name: "pkcs11", Enabled: false}}
