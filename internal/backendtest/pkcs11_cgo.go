//go:build cgo

package backendtest

import (
	"testing"

	"github.com/edgetuf/edgetuf/internal/pkcs11tok"
	"github.com/miekg/pkcs11"
)

// WithPrivateKey runs fn in a session of the token on the private key of
// object, for the tests that read or change a key's attributes, and
// fails the test on any error, fn's included.
func (h *SoftHSM) WithPrivateKey(t testing.TB, object string, fn func(tok *pkcs11tok.Token, priv pkcs11.ObjectHandle) error) {
	t.Helper()
	u, err := pkcs11tok.Parse(h.URI(object))
	if err != nil {
		t.Fatal(err)
	}
	err = pkcs11tok.Do(u, nil, func(tok *pkcs11tok.Token) error {
		priv, err := tok.FindOne(u, pkcs11.CKO_PRIVATE_KEY, "private")
		if err != nil {
			return err
		}
		return fn(tok, priv)
	})
	if err != nil {
		t.Fatal(err)
	}
}
