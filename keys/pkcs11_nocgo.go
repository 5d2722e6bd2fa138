//go:build !cgo

package keys

import (
	"crypto"
	"errors"
	"io"

	"github.com/sigstore/sigstore/pkg/signature"
)

// PKCS11Supported: this build cannot use keys in a PKCS#11 token (built
// without cgo). mrepo --version reports it.
const PKCS11Supported = false

// errNoCgo: PKCS#11 modules are shared libraries that only a cgo build
// can load.
var errNoCgo = errors.New("this mrepo was built without cgo: PKCS#11 keys are unavailable (rebuild with CGO_ENABLED=1)")

// p11Key stands in for the cgo build's PKCS#11 key; it is never created.
type p11Key struct{ extractable bool }

// ClosePKCS11 has nothing to close without cgo.
func ClosePKCS11() error { return nil }

func openPKCS11(*pkcs11URI, PassphraseFunc) (*p11Key, error) { return nil, errNoCgo }

func generatePKCS11(*pkcs11URI, Type, PassphraseFunc) (*p11Key, error) { return nil, errNoCgo }

func (*p11Key) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return nil, errNoCgo
}

func (*p11Key) SignMessage(io.Reader, ...signature.SignOption) ([]byte, error) {
	return nil, errNoCgo
}
