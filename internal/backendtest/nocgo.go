//go:build !cgo

package backendtest

// cgoEnabled: this build can load PKCS#11 modules.
const cgoEnabled = false
