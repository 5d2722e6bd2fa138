// Package keys generates, stores and loads the signing keys of a TUF
// repository.
//
// Private keys are PKCS#8, encrypted at rest with a passphrase (scrypt and
// NaCl secretbox in go-securesystemslib's encrypted format: sealed.go) in a JSON
// key file that also carries the public key and key ID in the clear, so a
// tool can find the key it needs without decrypting every file. Signing
// goes through sigstore's signature.Signer, the interface go-tuf signs
// with, so other backends (HSM, KMS) can stand behind the same Keyring.
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Type is a key algorithm.
type Type string

// Supported key types.
const (
	Ed25519   Type = "ed25519"
	ECDSAP256 Type = "ecdsa-p256"
)

// ParseType accepts "ed25519" and "ecdsa-p256".
func ParseType(s string) (Type, error) {
	switch Type(s) {
	case Ed25519, ECDSAP256:
		return Type(s), nil
	}
	return "", fmt.Errorf("unknown key type %q (want ed25519 or ecdsa-p256)", s)
}

// Key is a private signing key together with its TUF public key.
type Key struct {
	// Name is a label for humans and the base of the key's file names.
	Name    string
	Private crypto.Signer
	Public  *metadata.Key
	// Offline marks a key that is kept offline and used only in ceremonies
	// (root keys). Its file gets a stronger, slower key derivation.
	Offline bool
	id      string
}

// Generate creates a new key pair with the system's secure random source.
func Generate(name string, t Type) (*Key, error) {
	var priv crypto.Signer
	var err error
	switch t {
	case Ed25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case ECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("unknown key type %q", t)
	}
	if err != nil {
		return nil, err
	}
	return FromPrivate(name, priv)
}

// FromPrivate wraps an existing private key.
func FromPrivate(name string, priv crypto.Signer) (*Key, error) {
	pub, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	id, err := pub.ID()
	if err != nil {
		return nil, err
	}
	return &Key{Name: name, Private: priv, Public: pub, id: id}, nil
}

// ID is the key's TUF key ID (metadata.Key.ID, which is what go-tuf and
// every TUF client compute; securesystemslib's own ID differs).
func (k *Key) ID() string { return k.id }

// Signer returns a sigstore signer for TUF metadata.
func (k *Key) Signer() (signature.Signer, error) {
	return signerFor(k.Private)
}

func signerFor(priv crypto.Signer) (signature.Signer, error) {
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		return signature.LoadSigner(p, crypto.Hash(0))
	case *ecdsa.PrivateKey:
		if p.Curve != elliptic.P256() {
			return nil, errors.New("only ECDSA P-256 keys are supported")
		}
		return signature.LoadSigner(p, crypto.SHA256)
	case *rsa.PrivateKey:
		return signature.LoadRSAPSSSigner(p, crypto.SHA256, nil)
	}
	return nil, fmt.Errorf("unsupported private key type %T", priv)
}

// ShortID is the first 8 hex digits of a key ID, for messages.
func ShortID(id string) string { return pubkey.ShortID(id) }

// Verify checks one signature by one TUF public key over payload, the way
// go-tuf's Metadata.VerifyDelegate does for each key (internal/pubkey,
// shared with the auditor, which must not link this package).
func Verify(pub *metadata.Key, payload, sig []byte) error { return pubkey.Verify(pub, payload, sig) }

// CheckPublic reports whether a TUF key object can verify signatures. Call
// it before go-tuf's VerifyDelegate on keys read from disk: that panics on
// an ed25519 key of the wrong length.
func CheckPublic(k *metadata.Key) error { return pubkey.Check(k) }

// publicKey converts a TUF key object to a crypto public key, refusing an
// ed25519 key of the wrong length.
func publicKey(k *metadata.Key) (crypto.PublicKey, error) { return pubkey.Public(k) }
