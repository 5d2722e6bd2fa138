// Package pubkey checks signatures with TUF public keys. It holds no
// private key and signs nothing: it is the verifying half of package keys,
// split out so that the auditor (package audit) can check every signature
// of a repository without linking key storage, passphrases, HSM or KMS
// code.
//
// Used by keys (which re-exports Verify and CheckPublic), the repository
// writer and the auditor. It must never import keys, repo or anything that
// holds or loads private keys.
package pubkey

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ShortID is the first 8 hex digits of a key ID, for messages.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// ShortIDs is ShortID of each of ids, for messages that list a role's keys.
func ShortIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = ShortID(id)
	}
	return out
}

// Matching returns the key IDs of ids that s names: s itself, or, when s
// has at least 8 hex digits, every ID it is a prefix of (s in any case).
// The caller says what none or several matches mean.
func Matching(ids []string, s string) []string {
	s = strings.ToLower(s)
	var found []string
	for _, id := range ids {
		if id == s || (len(s) >= 8 && strings.HasPrefix(id, s)) {
			found = append(found, id)
		}
	}
	return found
}

// Verify checks one signature by one TUF public key over payload, the way
// go-tuf's Metadata.VerifyDelegate does for each key.
func Verify(pub *metadata.Key, payload, sig []byte) error {
	pk, err := Public(pub)
	if err != nil {
		return err
	}
	var v signature.Verifier
	switch k := pk.(type) {
	case ed25519.PublicKey:
		v, err = signature.LoadVerifier(k, crypto.Hash(0))
	case *ecdsa.PublicKey:
		h := crypto.SHA256
		if pub.Scheme == metadata.KeySchemeECDSA_SHA2_P384 {
			h = crypto.SHA384
		}
		v, err = signature.LoadVerifier(k, h)
	case *rsa.PublicKey:
		v, err = signature.LoadRSAPSSVerifier(k, crypto.SHA256, &rsa.PSSOptions{Hash: crypto.SHA256})
	default:
		return fmt.Errorf("unsupported public key type %T", pk)
	}
	if err != nil {
		return err
	}
	return v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload))
}

// Check reports whether a TUF key object can verify signatures. Call it
// before go-tuf's VerifyDelegate on keys read from disk: that panics on an
// ed25519 key of the wrong length.
func Check(k *metadata.Key) error {
	_, err := Public(k)
	return err
}

// CheckAll runs Check on every key of a root or a delegation, naming the
// first unusable one, so that no such key reaches VerifyDelegate.
func CheckAll(ks map[string]*metadata.Key) error {
	for id, k := range ks {
		if err := Check(k); err != nil {
			return fmt.Errorf("key %s: %v", ShortID(id), err)
		}
	}
	return nil
}

// Public converts a TUF key object to a crypto public key. go-tuf's
// ToPublicKey accepts an ed25519 key of any length, on which
// ed25519.Verify panics; such a key is an error here.
func Public(k *metadata.Key) (crypto.PublicKey, error) {
	pk, err := k.ToPublicKey()
	if err != nil {
		return nil, err
	}
	if e, ok := pk.(ed25519.PublicKey); ok && len(e) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("ed25519 public key is %d bytes, want %d", len(e), ed25519.PublicKeySize)
	}
	return pk, nil
}
