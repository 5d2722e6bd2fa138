package keys

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"golang.org/x/crypto/nacl/secretbox"
)

// checkUsable asserts what every accepted key must allow: a stable key ID,
// a public key file that round-trips, and signature checks (ours and
// go-tuf's) that return rather than panic.
func checkUsable(t *testing.T, k *metadata.Key, data []byte) string {
	t.Helper()
	if err := CheckPublic(k); err != nil {
		t.Fatalf("accepted key fails CheckPublic: %v", err)
	}
	id, err := k.ID()
	if err != nil {
		t.Fatalf("accepted key has no ID: %v", err)
	}
	enc, err := EncodePublic(k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePublic(enc)
	if err != nil {
		t.Fatalf("encoded public key rejected: %v\n%s", err, enc)
	}
	if id2, _ := back.ID(); id2 != id {
		t.Fatalf("key ID changed in a round trip: %s -> %s", id, id2)
	}
	// A signature made of input bytes: checking it must not panic.
	sum := sha256.Sum256(data)
	sig := append(sum[:], sum[:]...)
	_ = Verify(k, []byte("payload"), sig)
	root := metadata.Root()
	if err := root.Signed.AddKey(k, metadata.TIMESTAMP); err == nil {
		ts := metadata.Timestamp()
		ts.Signatures = []metadata.Signature{{KeyID: id, Signature: sig}}
		_ = root.VerifyDelegate(metadata.TIMESTAMP, ts)
	}
	return id
}

func FuzzParseFile(f *testing.F) {
	_, files := fixtures(f)
	for _, data := range files {
		f.Add(data)
	}
	f.Add([]byte(`{"format":"edgetuf-private-key-v1","name":"x","keyid":"","public":{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"abcd"}},"encrypted_pkcs8":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := ParseFile(data)
		if err != nil {
			return
		}
		if kf.Format != fileFormat || kf.Public == nil || len(kf.Encrypted) == 0 {
			t.Fatalf("accepted incomplete key file %+v", kf)
		}
		if id := checkUsable(t, kf.Public, data); id != kf.KeyID {
			t.Fatalf("key file claims ID %s for a key with ID %s", kf.KeyID, id)
		}
		// Decrypt is not called: every attempt costs a scrypt run.
	})
}

func FuzzParsePublic(f *testing.F) {
	ks, _ := fixtures(f)
	for _, k := range ks {
		data, _ := EncodePublic(k.Public)
		f.Add(data)
	}
	f.Add([]byte(`{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"abcd"}}`))
	f.Add([]byte(`{"keytype":"rsa","scheme":"rsassa-pss-sha256","keyval":{"public":"-----BEGIN PUBLIC KEY-----\nMA==\n-----END PUBLIC KEY-----\n"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublic(data)
		if err != nil {
			return
		}
		checkUsable(t, k, data)
	})
}

// FuzzParseSealed: an accepted encrypted private key names an allowed
// parameter set (so decrypting it costs at most 128 MiB and one offline
// derivation), the one algorithm pair, and a salt, nonce and ciphertext
// of usable lengths: open cannot fail on a malformed field, only on the
// authenticator.
func FuzzParseSealed(f *testing.F) {
	_, files := fixtures(f)
	for _, data := range files {
		kf, err := ParseFile(data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(kf.Encrypted))
	}
	f.Add([]byte(`{"kdf":{"name":"scrypt","params":{"N":16777216,"r":8,"p":1},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":""},"ciphertext":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSealed(data)
		if err != nil {
			if !errors.Is(err, ErrKeyEncryption) {
				t.Fatalf("refusal without ErrKeyEncryption: %v", err)
			}
			return
		}
		if !accepted(s.KDF.Params) || s.KDF.Params.memory() > 128<<20 {
			t.Fatalf("accepted scrypt parameters %+v", s.KDF.Params)
		}
		if s.KDF.Name != sealedKDFName || s.Cipher.Name != sealedCipherName || len(s.KDF.Salt) != saltSize || len(s.Cipher.Nonce) != nonceSize || len(s.Ciphertext) < secretbox.Overhead {
			t.Fatalf("accepted malformed encryption %+v", s)
		}
		// Decrypting is not tried: every attempt costs a scrypt run.
	})
}
