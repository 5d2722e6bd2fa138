//go:build edgetuf_pkcs11

package main

import (
	// PKCS#11 device keys (pkcs11: references of mclient device-key).
	"github.com/edgetuf/edgetuf/devicekey/pkcs11key"
	"github.com/edgetuf/edgetuf/internal/cliutil"
)

// features are the optional capabilities `mclient --version` reports:
// this build (the edgetuf_pkcs11 tag) links the PKCS#11 device-key
// backend, which works when cgo is on as well.
var features = []cliutil.Feature{{Name: "pkcs11", Enabled: pkcs11key.Supported}}
