// Package keyringtest is the conformance suite of keys.Keyring: one set of
// tests that every keyring implementation (key files, PKCS#11 tokens, AWS
// KMS, keys in memory) runs through its own constructor, as restic's
// internal/backend/test does for storage backends. A new backend gets
// every test by calling Run with a Backend; what only one backend can do
// (a token's key attributes, a KMS key spec) stays in that backend's own
// tests.
//
// What the suite checks, for each key type the backend supports: a signer
// signs TUF metadata that go-tuf verifies against the backend's public
// key, and keys.Verify agrees (other bytes, a corrupted signature and
// another key's signature are rejected); the signer's public key is the
// backend's key, its ID is metadata.Key.ID() and survives an encoding
// round trip and reopening the keyring; signing one payload twice gives
// two valid signatures (identical for Ed25519, which is deterministic); the
// keyring is safe for concurrent use from its first use on, and so is a
// signer it returns; a key the keyring does not hold is refused with
// keys.ErrKeyNotFound, never with another key's signer.
//
// It is test support only. It imports keys, so keys' own tests use it from
// the external test package keys_test; it must never be imported by
// non-test code.
package keyringtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Backend is a keyring implementation under test.
type Backend struct {
	// Types are the key types the backend can hold; every test runs once
	// for each.
	Types []keys.Type
	// New returns a keyring that holds one key of type typ (and, for
	// the refusal tests, no key the suite asks for besides), with that
	// key's public key as the backend reports it. It is called once per
	// test; t is that test's, for its temporary directories and cleanups.
	New func(t *testing.T, typ keys.Type) (keys.Keyring, *metadata.Key)
	// Reopen, if not nil, returns a new keyring on the same storage as kr
	// (the same key directory, token or KMS), as the next mrepo command
	// would open it; nil: the keyring lives only in memory.
	Reopen func(t *testing.T, kr keys.Keyring) keys.Keyring
	// Parallel lets the tests run in parallel with each other. Leave it
	// false for a backend that needs process-wide state (SoftHSM and
	// local-kms are reached through environment variables).
	Parallel bool
}

// Run runs every test of the suite on b, as subtests of t.
func Run(t *testing.T, b Backend) {
	t.Helper()
	if b.New == nil || len(b.Types) == 0 {
		t.Fatal("keyringtest: a Backend needs New and Types")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend, typ keys.Type)
	}{
		{"SignVerify", testSignVerify},
		{"PublicKey", testPublicKey},
		{"Reopen", testReopen},
		{"SamePayloadTwice", testSamePayloadTwice},
		{"ConcurrentSigning", testConcurrentSigning},
		{"UnknownKey", testUnknownKey},
		{"CryptoSigner", testCryptoSigner},
	}
	for _, typ := range b.Types {
		t.Run(string(typ), func(t *testing.T) {
			if b.Parallel {
				t.Parallel()
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					if b.Parallel {
						t.Parallel()
					}
					tc.fn(t, b, typ)
				})
			}
		})
	}
}

// wantScheme is the TUF key type and scheme of each key type.
var wantScheme = map[keys.Type][2]string{
	keys.Ed25519:   {metadata.KeyTypeEd25519, metadata.KeySchemeEd25519},
	keys.ECDSAP256: {metadata.KeyTypeECDSA_SHA2_P256, metadata.KeySchemeECDSA_SHA2_P256},
}

func keyID(t *testing.T, pub *metadata.Key) string {
	t.Helper()
	id, err := pub.ID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newHeld(t *testing.T, b Backend, typ keys.Type) (keys.Keyring, *metadata.Key, string) {
	t.Helper()
	kr, pub := b.New(t, typ)
	if kr == nil || pub == nil {
		t.Fatal("New returned no keyring or no public key")
	}
	want := wantScheme[typ]
	if pub.Type != want[0] || pub.Scheme != want[1] {
		t.Fatalf("a %s key is %s/%s, want %s/%s", typ, pub.Type, pub.Scheme, want[0], want[1])
	}
	return kr, pub, keyID(t, pub)
}

func signer(t *testing.T, kr keys.Keyring, id string) signature.Signer {
	t.Helper()
	s, err := kr.Signer(id)
	if err != nil {
		t.Fatalf("Signer(%s): %v", keys.ShortID(id), err)
	}
	if s == nil {
		t.Fatalf("Signer(%s) returned no signer and no error", keys.ShortID(id))
	}
	return s
}

func sign(t testing.TB, s signature.Signer, payload []byte) []byte {
	t.Helper()
	sig, err := s.SignMessage(bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("SignMessage: %v", err)
	}
	return sig
}

// verifyTUF signs metadata of every top-level kind with s, as the
// repository does, and checks it as a TUF client does: go-tuf's
// VerifyDelegate against a root that lists pub for the role.
func verifyTUF(t *testing.T, s signature.Signer, pub *metadata.Key) {
	t.Helper()
	root := metadata.Root()
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := root.Signed.AddKey(pub, role); err != nil {
			t.Fatal(err)
		}
	}
	tg, sn, ts := metadata.Targets(), metadata.Snapshot(), metadata.Timestamp()
	for _, md := range []interface {
		Sign(signature.Signer) (*metadata.Signature, error)
	}{root, tg, sn, ts} {
		if _, err := md.Sign(s); err != nil {
			t.Fatalf("signing metadata: %v", err)
		}
	}
	for role, err := range map[string]error{
		metadata.ROOT:      root.VerifyDelegate(metadata.ROOT, root),
		metadata.TARGETS:   root.VerifyDelegate(metadata.TARGETS, tg),
		metadata.SNAPSHOT:  root.VerifyDelegate(metadata.SNAPSHOT, sn),
		metadata.TIMESTAMP: root.VerifyDelegate(metadata.TIMESTAMP, ts),
	} {
		if err != nil {
			t.Errorf("go-tuf rejects %s metadata the keyring signed: %v", role, err)
		}
	}
	// A changed payload must not verify.
	tg.Signed.Version++
	if err := root.VerifyDelegate(metadata.TARGETS, tg); err == nil {
		t.Error("go-tuf accepts the signature over changed metadata")
	}
}

func testSignVerify(t *testing.T, b Backend, typ keys.Type) {
	kr, pub, id := newHeld(t, b, typ)
	s := signer(t, kr, id)
	verifyTUF(t, s, pub)

	payload := []byte(`{"_type":"timestamp","version":1}`)
	sig := sign(t, s, payload)
	if err := keys.Verify(pub, payload, sig); err != nil {
		t.Fatalf("keys.Verify of a good signature: %v", err)
	}
	if err := keys.Verify(pub, append(payload, ' '), sig); err == nil {
		t.Error("keys.Verify accepted the signature over other bytes")
	}
	bad := bytes.Clone(sig)
	bad[len(bad)/2] ^= 1
	if err := keys.Verify(pub, payload, bad); err == nil {
		t.Error("keys.Verify accepted a corrupted signature")
	}
	other, err := keys.Generate("other", typ)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Verify(other.Public, payload, sig); err == nil {
		t.Error("keys.Verify accepted the signature for another key")
	}
}

// testPublicKey: the signer's own public key is the backend's key, and
// the key ID is metadata.Key.ID() (what go-tuf and every TUF client
// compute), stable through an encoding round trip.
func testPublicKey(t *testing.T, b Backend, typ keys.Type) {
	kr, pub, id := newHeld(t, b, typ)
	if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("key ID %q is not 64 lowercase hex digits", id)
	}
	s := signer(t, kr, id)
	cpub, err := s.PublicKey()
	if err != nil {
		t.Fatalf("the signer's PublicKey: %v", err)
	}
	fromSigner, err := metadata.KeyFromPublicKey(cpub)
	if err != nil {
		t.Fatal(err)
	}
	if got := keyID(t, fromSigner); got != id {
		t.Fatalf("the signer's public key has ID %s, the keyring's %s", got, id)
	}
	data, err := keys.EncodePublic(pub)
	if err != nil {
		t.Fatal(err)
	}
	back, err := keys.ParsePublic(data)
	if err != nil {
		t.Fatalf("ParsePublic(EncodePublic): %v", err)
	}
	if got := keyID(t, back); got != id {
		t.Fatalf("public key round trip: ID %s, want %s", got, id)
	}
	if err := keys.CheckPublic(back); err != nil {
		t.Fatalf("CheckPublic: %v", err)
	}
	// The ID does not change from one call to the next.
	if again := signer(t, kr, id); again == nil {
		t.Fatal("second Signer call")
	} else if p, err := again.PublicKey(); err != nil {
		t.Fatal(err)
	} else if k, err := metadata.KeyFromPublicKey(p); err != nil || keyID(t, k) != id {
		t.Fatalf("second signer's key: %v", err)
	}
}

// testReopen: the key is still there, with the same ID, for the next
// command that opens the keyring's storage.
func testReopen(t *testing.T, b Backend, typ keys.Type) {
	if b.Reopen == nil {
		t.Skip("the keyring lives in memory only")
	}
	kr, pub, id := newHeld(t, b, typ)
	again := b.Reopen(t, kr)
	s := signer(t, again, id)
	sig := sign(t, s, []byte("m"))
	if err := keys.Verify(pub, []byte("m"), sig); err != nil {
		t.Fatalf("the reopened keyring signs for another key: %v", err)
	}
}

// testSamePayloadTwice: signing does not depend on state left by an
// earlier signature.
func testSamePayloadTwice(t *testing.T, b Backend, typ keys.Type) {
	kr, pub, id := newHeld(t, b, typ)
	s := signer(t, kr, id)
	payload := []byte(`{"signed":"twice"}`)
	first, second := sign(t, s, payload), sign(t, s, payload)
	for i, sig := range [][]byte{first, second} {
		if err := keys.Verify(pub, payload, sig); err != nil {
			t.Errorf("signature %d: %v", i+1, err)
		}
	}
	if typ == keys.Ed25519 && !bytes.Equal(first, second) {
		t.Error("two Ed25519 signatures of one payload differ: Ed25519 is deterministic (RFC 8032), so this is not pure Ed25519")
	}
	// A second signer for the same key signs the same way.
	if err := keys.Verify(pub, payload, sign(t, signer(t, kr, id), payload)); err != nil {
		t.Errorf("a second signer's signature: %v", err)
	}
}

// testConcurrentSigning: a keyring is safe for concurrent use, from its
// first use on: goroutines ask a fresh keyring for signers at once, then
// share one signer.
func testConcurrentSigning(t *testing.T, b Backend, typ keys.Type) {
	kr, pub, id := newHeld(t, b, typ)
	const workers = 4
	signers := make([]signature.Signer, workers)
	run := func(what string, work func(i int) error) {
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = work(i)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("%s, goroutine %d: %v", what, i, err)
			}
		}
	}
	signVerify := func(s signature.Signer, payload []byte) error {
		sig, err := s.SignMessage(bytes.NewReader(payload))
		if err != nil {
			return err
		}
		return keys.Verify(pub, payload, sig)
	}
	run("Signer on a fresh keyring", func(i int) error {
		s, err := kr.Signer(id)
		if err != nil {
			return err
		}
		signers[i] = s
		return signVerify(s, fmt.Appendf(nil, "own signer, payload %d", i))
	})
	run("one shared signer", func(i int) error {
		return signVerify(signers[0], fmt.Appendf(nil, "shared signer, payload %d", i))
	})
}

// testUnknownKey: a key the keyring does not hold is refused with
// keys.ErrKeyNotFound (callers tolerate it when other holders sign), not
// with another error, and never with a signer for another key.
func testUnknownKey(t *testing.T, b Backend, typ keys.Type) {
	kr, _, id := newHeld(t, b, typ)
	other, err := keys.Generate("not-held", typ)
	if err != nil {
		t.Fatal(err)
	}
	for _, unknown := range []string{other.ID(), strings.Repeat("0", 64), strings.ToUpper(id), id[:8], "", "../" + id, "nope"} {
		s, err := kr.Signer(unknown)
		if !errors.Is(err, keys.ErrKeyNotFound) {
			// Never print s: it may hold a private key.
			t.Errorf("Signer(%q): signer returned %v, error %v; want keys.ErrKeyNotFound", unknown, s != nil, err)
		}
	}
}

// testCryptoSigner: a signer that is also a crypto.Signer (a PKCS#11 key
// is) signs through that interface too, as the standard library checks.
func testCryptoSigner(t *testing.T, b Backend, typ keys.Type) {
	kr, _, id := newHeld(t, b, typ)
	cs, ok := signer(t, kr, id).(crypto.Signer)
	if !ok {
		t.Skip("the signer is not a crypto.Signer")
	}
	msg := []byte("edgetuf")
	switch pub := cs.Public().(type) {
	case ed25519.PublicKey:
		sig, err := cs.Sign(nil, msg, crypto.Hash(0))
		if err != nil || !ed25519.Verify(pub, msg, sig) {
			t.Fatalf("crypto.Signer Ed25519 signature does not verify (%v)", err)
		}
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(msg)
		sig, err := cs.Sign(nil, sum[:], crypto.SHA256)
		if err != nil || !ecdsa.VerifyASN1(pub, sum[:], sig) {
			t.Fatalf("crypto.Signer ECDSA signature is not valid ASN.1 DER (%v)", err)
		}
	default:
		t.Fatalf("crypto.Signer with public key %T", pub)
	}
}
