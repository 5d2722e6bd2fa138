package modelcrypt

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"
)

func codeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestRoundTripAndTampering(t *testing.T) {
	ck, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	plain := make([]byte, 200<<10+17)
	rand.Read(plain)
	var ct bytes.Buffer
	n, sum, err := EncryptStream(&ct, bytes.NewReader(plain), ck.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(plain)
	if n != int64(len(plain)) || sum != hex.EncodeToString(want[:]) {
		t.Fatalf("EncryptStream = %d %s", n, sum)
	}
	var out bytes.Buffer
	if err := DecryptVerified(&out, bytes.NewReader(ct.Bytes()), ck, n, sum); err != nil || !bytes.Equal(out.Bytes(), plain) {
		t.Fatalf("DecryptVerified: %v", err)
	}
	other, _ := NewContentKey()
	flipped := bytes.Clone(ct.Bytes())
	flipped[len(flipped)/2] ^= 1
	hdr := len(ct.Bytes()) - (len(plain)/65536+1)*16 - len(plain) // header length
	swapped := bytes.Clone(ct.Bytes())
	c := 65536 + 16
	copy(swapped[hdr:hdr+c], ct.Bytes()[hdr+c:hdr+2*c])
	copy(swapped[hdr+c:hdr+2*c], ct.Bytes()[hdr:hdr+c])
	for name, tc := range map[string]struct {
		data []byte
		key  *ContentKey
		n    int64
		sum  string
	}{
		"wrong key":      {ct.Bytes(), other, n, sum},
		"flipped byte":   {flipped, ck, n, sum},
		"truncated":      {ct.Bytes()[:len(ct.Bytes())-100], ck, n, sum},
		"chunk cut":      {ct.Bytes()[:hdr+2*c], ck, n, sum},
		"chunks swapped": {swapped, ck, n, sum},
		"short length":   {ct.Bytes(), ck, n - 1, sum},
		"long length":    {ct.Bytes(), ck, n + 1, sum},
		"other hash":     {ct.Bytes(), ck, n, hex.EncodeToString(make([]byte, 32))},
	} {
		var sink bytes.Buffer
		err := DecryptVerified(&sink, bytes.NewReader(tc.data), tc.key, tc.n, tc.sum)
		if codeOf(err) != CodeDecryptFailed {
			t.Errorf("%s: err = %v, want %s", name, err, CodeDecryptFailed)
		}
		if int64(sink.Len()) > tc.n {
			t.Errorf("%s: %d bytes written, more than the signed %d", name, sink.Len(), tc.n)
		}
	}
	// No 64-byte window of the plaintext appears in the ciphertext.
	for i := 0; i+64 <= len(plain); i += 4096 {
		if bytes.Contains(ct.Bytes(), plain[i:i+64]) {
			t.Fatalf("plaintext window at %d found in the ciphertext", i)
		}
	}
}

type softKey struct{ k *ecdh.PrivateKey }

func (s softKey) Public() *ecdh.PublicKey                { return s.k.PublicKey() }
func (s softKey) ECDH(r *ecdh.PublicKey) ([]byte, error) { return s.k.ECDH(r) }

func TestEnvelope(t *testing.T) {
	dev, _ := ecdh.P256().GenerateKey(rand.Reader)
	other, _ := ecdh.P256().GenerateKey(rand.Reader)
	rs, err := Recipient(dev.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecipient(rs)
	if err != nil {
		t.Fatal(err)
	}
	ck, _ := NewContentKey()
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	env, err := SealEnvelope(r, Grant{ModelID: "m", Version: "1.0.0", ContentKey: ck.String(), NotAfter: now.Add(time.Hour).Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenEnvelope(env, softKey{dev}, "m", "1.0.0", ck.Recipient(), now)
	if err != nil || got.String() != ck.String() {
		t.Fatalf("OpenEnvelope: %v", err)
	}
	ck2, _ := NewContentKey()
	for name, err := range map[string]error{
		"other device": func() error {
			_, err := OpenEnvelope(env, softKey{other}, "m", "1.0.0", ck.Recipient(), now)
			return err
		}(),
		"other version": func() error { _, err := OpenEnvelope(env, softKey{dev}, "m", "1.0.1", ck.Recipient(), now); return err }(),
		"other model":   func() error { _, err := OpenEnvelope(env, softKey{dev}, "n", "1.0.0", ck.Recipient(), now); return err }(),
		"other key": func() error {
			_, err := OpenEnvelope(env, softKey{dev}, "m", "1.0.0", ck2.Recipient(), now)
			return err
		}(),
		"expired": func() error {
			_, err := OpenEnvelope(env, softKey{dev}, "m", "1.0.0", ck.Recipient(), now.Add(time.Hour))
			return err
		}(),
		"damaged": func() error {
			d := bytes.Clone(env)
			d[len(d)-3] ^= 1
			_, err := OpenEnvelope(d, softKey{dev}, "m", "1.0.0", ck.Recipient(), now)
			return err
		}(),
	} {
		if codeOf(err) != CodeDecryptFailed {
			t.Errorf("%s: err = %v, want %s", name, err, CodeDecryptFailed)
		}
	}
	if EnvelopeName(r) == "" || len(env) > 1024 {
		t.Fatalf("envelope of %d bytes", len(env))
	}
}

// DecryptVerifiedTo checks the SHA-256 its writer reports, not one of its
// own: a wrong sum fails with DECRYPT_FAILED, and the writer's error at
// closing is returned as it is.
func TestDecryptVerifiedToChecksTheWritersSum(t *testing.T) {
	ck, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	plain := make([]byte, 70<<10)
	rand.Read(plain)
	var ct bytes.Buffer
	n, sum, err := EncryptStream(&ct, bytes.NewReader(plain), ck.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	right := func() ([]byte, error) { s := sha256.Sum256(out.Bytes()); return s[:], nil }
	if err := DecryptVerifiedTo(&out, right, bytes.NewReader(ct.Bytes()), ck, n, sum); err != nil || !bytes.Equal(out.Bytes(), plain) {
		t.Fatalf("DecryptVerifiedTo: %v", err)
	}
	wrong := func() ([]byte, error) { return make([]byte, 32), nil }
	if err := DecryptVerifiedTo(io.Discard, wrong, bytes.NewReader(ct.Bytes()), ck, n, sum); codeOf(err) != CodeDecryptFailed {
		t.Fatalf("wrong sum: err = %v, want %s", err, CodeDecryptFailed)
	}
	diskFull := errors.New("disk full")
	failing := func() ([]byte, error) { return nil, diskFull }
	if err := DecryptVerifiedTo(io.Discard, failing, bytes.NewReader(ct.Bytes()), ck, n, sum); err != diskFull {
		t.Fatalf("failing writer: err = %v, want it as it is", err)
	}
	called := false
	never := func() ([]byte, error) { called = true; return nil, nil }
	other, _ := NewContentKey()
	if err := DecryptVerifiedTo(io.Discard, never, bytes.NewReader(ct.Bytes()), other, n, sum); codeOf(err) != CodeDecryptFailed || called {
		t.Fatalf("wrong key: err = %v, closeSum called %v", err, called)
	}
}
