//go:build !edgetuf_pkcs11

package main

import "github.com/edgetuf/edgetuf/internal/cliutil"

// features are the optional capabilities `mclient --version` reports.
// mclient has no PKCS#11 support (for a device key kept in a token);
// when it gets some, behind the edgetuf_pkcs11 build tag, that build's
// file reports "pkcs11: yes" and this one stays for the others.
var features = []cliutil.Feature{{Name: "pkcs11", Enabled: false}}
