//go:build !cgo

package pkcs11tok

// Supported: this build cannot load PKCS#11 modules (built without cgo;
// token.go has the other value).
const Supported = false

// Close has nothing to close without cgo.
func Close() error { return nil }
