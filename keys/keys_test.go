package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// testPassphrase is a test-only value; no real secret is used in tests.
var testPassphrase = []byte("test-only-passphrase")

// Encrypting a key runs scrypt (about half a second), so each key type's
// test key file is made once.
var (
	fixturesOnce sync.Once
	fixtureKeys  map[Type]*Key
	fixtureFiles map[Type][]byte
	fixtureErr   error
)

func fixtures(t testing.TB) (map[Type]*Key, map[Type][]byte) {
	t.Helper()
	fixturesOnce.Do(func() {
		fixtureKeys, fixtureFiles = map[Type]*Key{}, map[Type][]byte{}
		for _, typ := range []Type{Ed25519, ECDSAP256} {
			k, err := Generate("test-"+string(typ), typ)
			if err != nil {
				fixtureErr = err
				return
			}
			data, err := EncodeFile(k, testPassphrase)
			if err != nil {
				fixtureErr = err
				return
			}
			fixtureKeys[typ], fixtureFiles[typ] = k, data
		}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureKeys, fixtureFiles
}

func TestParseType(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"ed25519", "ecdsa-p256"} {
		if typ, err := ParseType(s); err != nil || string(typ) != s {
			t.Errorf("ParseType(%q) = %q, %v", s, typ, err)
		}
	}
	for _, s := range []string{"", "rsa", "ED25519", "ecdsa", "ecdsa-p384"} {
		if _, err := ParseType(s); err == nil {
			t.Errorf("ParseType(%q) accepted", s)
		}
	}
	if _, err := Generate("x", "rsa"); err == nil {
		t.Error("Generate accepted an unknown type")
	}
}

func TestGenerateAndSign(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		typ            Type
		keytype, sheme string
	}{
		{Ed25519, metadata.KeyTypeEd25519, metadata.KeySchemeEd25519},
		{ECDSAP256, metadata.KeyTypeECDSA_SHA2_P256, metadata.KeySchemeECDSA_SHA2_P256},
	} {
		t.Run(string(c.typ), func(t *testing.T) {
			k, err := Generate("k", c.typ)
			if err != nil {
				t.Fatal(err)
			}
			if k.Public.Type != c.keytype || k.Public.Scheme != c.sheme {
				t.Errorf("public key %s/%s, want %s/%s", k.Public.Type, k.Public.Scheme, c.keytype, c.sheme)
			}
			id, err := k.Public.ID()
			if err != nil || k.ID() != id || len(id) != 64 {
				t.Errorf("ID() = %q, metadata ID %q (%v)", k.ID(), id, err)
			}
			if ShortID(k.ID()) != k.ID()[:8] || ShortID("abc") != "abc" {
				t.Error("ShortID")
			}
			other, _ := Generate("k", c.typ)
			if other.ID() == k.ID() {
				t.Error("two generated keys share an ID")
			}

			s, err := k.Signer()
			if err != nil {
				t.Fatal(err)
			}
			payload := []byte(`{"_type":"timestamp"}`)
			sig, err := s.SignMessage(bytes.NewReader(payload))
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(k.Public, payload, sig); err != nil {
				t.Errorf("Verify of a good signature: %v", err)
			}
			if err := Verify(k.Public, append(payload, ' '), sig); err == nil {
				t.Error("Verify accepted a signature over other bytes")
			}
			bad := append([]byte{}, sig...)
			bad[len(bad)/2] ^= 1
			if err := Verify(k.Public, payload, bad); err == nil {
				t.Error("Verify accepted a corrupted signature")
			}
			if err := Verify(other.Public, payload, sig); err == nil {
				t.Error("Verify accepted a signature by another key")
			}

			// go-tuf, which clients use, agrees with Verify.
			md := metadata.Timestamp()
			if _, err := md.Sign(s); err != nil {
				t.Fatal(err)
			}
			root := metadata.Root()
			if err := root.Signed.AddKey(k.Public, metadata.TIMESTAMP); err != nil {
				t.Fatal(err)
			}
			if err := root.VerifyDelegate(metadata.TIMESTAMP, md); err != nil {
				t.Errorf("go-tuf rejects the signature: %v", err)
			}
		})
	}
}

func TestVerifyRejectsUnusableKeys(t *testing.T) {
	t.Parallel()
	for name, k := range map[string]*metadata.Key{
		"short ed25519": {Type: metadata.KeyTypeEd25519, Scheme: metadata.KeySchemeEd25519, Value: metadata.KeyVal{PublicKey: "abcd"}},
		"long ed25519":  {Type: metadata.KeyTypeEd25519, Scheme: metadata.KeySchemeEd25519, Value: metadata.KeyVal{PublicKey: strings.Repeat("ab", 33)}},
		"not hex":       {Type: metadata.KeyTypeEd25519, Scheme: metadata.KeySchemeEd25519, Value: metadata.KeyVal{PublicKey: "zz"}},
		"unknown type":  {Type: "dsa", Scheme: "dsa", Value: metadata.KeyVal{PublicKey: "abcd"}},
		"bad PEM":       {Type: metadata.KeyTypeECDSA_SHA2_P256, Scheme: metadata.KeySchemeECDSA_SHA2_P256, Value: metadata.KeyVal{PublicKey: "-----BEGIN PUBLIC KEY-----"}},
	} {
		// Must be an error, never a panic (ed25519.Verify panics on a key
		// of the wrong length).
		if err := Verify(k, []byte("payload"), make([]byte, 64)); err == nil {
			t.Errorf("%s: Verify succeeded", name)
		}
	}
}

func TestEncodeFileRoundTrip(t *testing.T) {
	t.Parallel()
	ks, files := fixtures(t)
	for typ, data := range files {
		k := ks[typ]
		t.Run(string(typ), func(t *testing.T) {
			if bytes.Contains(data, []byte("PRIVATE KEY")) {
				t.Fatalf("key file holds a plaintext private key PEM block:\n%s", data)
			}
			var secret []byte
			switch p := k.Private.(type) {
			case ed25519.PrivateKey:
				secret = p.Seed()
			case *ecdsa.PrivateKey:
				secret, _ = p.Bytes()
			}
			if len(secret) != 32 {
				t.Fatalf("no private scalar for %T", k.Private)
			}
			for _, enc := range []string{hex.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret[:30]), base64.StdEncoding.EncodeToString(secret[1:31]), base64.StdEncoding.EncodeToString(secret[2:32])} {
				if bytes.Contains(data, []byte(enc)) {
					t.Fatalf("key file holds the private key in the clear")
				}
			}
			f, err := ParseFile(data)
			if err != nil {
				t.Fatal(err)
			}
			if f.Name != k.Name || f.KeyID != k.ID() || f.Format != fileFormat {
				t.Errorf("parsed %+v", f)
			}
			got, err := f.Decrypt(testPassphrase)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID() != k.ID() || got.Name != k.Name {
				t.Errorf("decrypted key %s %s, want %s %s", got.Name, got.ID(), k.Name, k.ID())
			}
			// The decrypted key signs for the public key in the file.
			s, _ := got.Signer()
			sig, err := s.SignMessage(bytes.NewReader([]byte("m")))
			if err != nil || Verify(f.Public, []byte("m"), sig) != nil {
				t.Errorf("decrypted key does not sign for the file's public key: %v", err)
			}

			_, err = f.Decrypt([]byte("test-only-wrong-passphrase"))
			if !errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("wrong passphrase: err = %v, want ErrWrongPassphrase", err)
			}
		})
	}
	if _, err := EncodeFile(ks[Ed25519], nil); err == nil {
		t.Error("EncodeFile accepted an empty passphrase")
	}
}

// editFile decodes a key file into a map, applies f and re-encodes it.
func editFile(t *testing.T, data []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseFileRejectsTampering(t *testing.T) {
	t.Parallel()
	ks, files := fixtures(t)
	ed, ec := files[Ed25519], files[ECDSAP256]
	otherPub, _ := json.Marshal(ks[ECDSAP256].Public)
	var otherPubMap map[string]any
	json.Unmarshal(otherPub, &otherPubMap)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"keyid altered", editFile(t, ed, func(m map[string]any) { m["keyid"] = strings.Repeat("0", 64) }), "claims key ID"},
		{"keyid of another key", editFile(t, ed, func(m map[string]any) { m["keyid"] = ks[ECDSAP256].ID() }), "claims key ID"},
		{"public key altered", editFile(t, ed, func(m map[string]any) {
			pub := ks[Ed25519].Public.Value.PublicKey
			flipped := "0"
			if pub[0] == '0' {
				flipped = "1"
			}
			m["public"].(map[string]any)["keyval"].(map[string]any)["public"] = flipped + pub[1:]
		}), "claims key ID"},
		{"public key swapped", editFile(t, ed, func(m map[string]any) { m["public"] = otherPubMap }), "claims key ID"},
		{"public key truncated", editFile(t, ed, func(m map[string]any) {
			m["public"].(map[string]any)["keyval"].(map[string]any)["public"] = "abcd"
		}), "public key"},
		{"public key not hex", editFile(t, ed, func(m map[string]any) {
			m["public"].(map[string]any)["keyval"].(map[string]any)["public"] = "xyz"
		}), "public key"},
		{"public key missing", editFile(t, ed, func(m map[string]any) { delete(m, "public") }), "lacks its public key"},
		{"encrypted key missing", editFile(t, ec, func(m map[string]any) { delete(m, "encrypted_pkcs8") }), "lacks its public key or encrypted private key"},
		{"wrong format", editFile(t, ec, func(m map[string]any) { m["format"] = "pkcs8" }), "format"},
		{"public key file", otherPub, "format"},
		{"not JSON", []byte("-----BEGIN PRIVATE KEY-----"), "not a key file"},
		{"empty", nil, "not a key file"},
		{"too large", append(append([]byte{}, ed...), bytes.Repeat([]byte(" "), maxKeyFileSize)...), "too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := ParseFile(c.data)
			if err == nil {
				t.Fatalf("accepted: %+v", f)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// TestDecryptRejectsMismatchedPrivateKey: a file whose public key and key ID
// are consistent but whose encrypted private key belongs to another key
// must not decrypt into a signer for the advertised key.
func TestDecryptRejectsMismatchedPrivateKey(t *testing.T) {
	t.Parallel()
	ks, files := fixtures(t)
	victim, err := ParseFile(files[Ed25519])
	if err != nil {
		t.Fatal(err)
	}
	donor, err := ParseFile(files[ECDSAP256])
	if err != nil {
		t.Fatal(err)
	}
	victim.Encrypted = donor.Encrypted // same passphrase, other key
	_, err = victim.Decrypt(testPassphrase)
	if err == nil || !strings.Contains(err.Error(), "does not match the public key") {
		t.Fatalf("err = %v, want a mismatch error", err)
	}
	if errors.Is(err, ErrWrongPassphrase) {
		t.Error("a mismatched key is reported as a wrong passphrase")
	}
	if _, err := donor.Decrypt(testPassphrase); err != nil || ks[ECDSAP256].ID() != donor.KeyID {
		t.Errorf("the donor file itself still decrypts: %v", err)
	}
}

func TestParsePublic(t *testing.T) {
	t.Parallel()
	ks, files := fixtures(t)
	for typ, k := range ks {
		data, err := EncodePublic(k.Public)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := ParsePublic(data)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if id, _ := pub.ID(); id != k.ID() {
			t.Errorf("%s: ID %s, want %s", typ, id, k.ID())
		}
	}
	pubKey := ks[Ed25519].Public.Value.PublicKey
	for name, data := range map[string]string{
		"empty":         ``,
		"not JSON":      `ed25519 ` + pubKey,
		"unknown type":  `{"keytype":"dsa","scheme":"dsa","keyval":{"public":"` + pubKey + `"}}`,
		"short ed25519": `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"abcd"}}`,
		"long ed25519":  `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"` + pubKey + `00"}}`,
		"not hex":       `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"` + strings.Repeat("x", 64) + `"}}`,
		"no keyval":     `{"keytype":"ed25519","scheme":"ed25519"}`,
		"bad PEM":       `{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}}`,
		"private key":   string(files[Ed25519]),
	} {
		if k, err := ParsePublic([]byte(data)); err == nil {
			t.Errorf("%s: accepted %+v", name, k)
		}
	}
}

func TestDirWriteListLoad(t *testing.T) {
	t.Parallel()
	ks, _ := fixtures(t)
	fs := afero.NewMemMapFs()
	asked := 0
	d := &Dir{FS: fs, Path: "/keys", Passphrase: func(purpose string, confirm bool) ([]byte, error) {
		asked++
		return testPassphrase, nil
	}}
	a, b := ks[Ed25519], ks[ECDSAP256]
	if err := d.Write(a, testPassphrase); err != nil {
		t.Fatal(err)
	}
	if err := d.Write(b, testPassphrase); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		perm os.FileMode
	}{{a.Name + KeySuffix, 0o600}, {a.Name + PubSuffix, 0o644}, {b.Name + KeySuffix, 0o600}} {
		fi, err := fs.Stat(filepath.Join("/keys", c.name))
		if err != nil || fi.Mode().Perm() != c.perm {
			t.Errorf("%s: %v, mode %v, want %v", c.name, err, fi.Mode().Perm(), c.perm)
		}
	}
	pub, _ := afero.ReadFile(fs, filepath.Join("/keys", a.Name+PubSuffix))
	if k, err := ParsePublic(pub); err != nil || mustID(k) != a.ID() {
		t.Errorf("public key file: %v", err)
	}

	// Never overwrites.
	before, _ := afero.ReadFile(fs, filepath.Join("/keys", a.Name+KeySuffix))
	if err := d.Write(a, []byte("test-only-other")); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("second Write: %v", err)
	}
	after, _ := afero.ReadFile(fs, filepath.Join("/keys", a.Name+KeySuffix))
	if !bytes.Equal(before, after) {
		t.Error("second Write changed the key file")
	}

	// List ignores public keys, temporary files and other files.
	afero.WriteFile(fs, "/keys/.tmp-123"+KeySuffix, []byte("junk"), 0o600)
	afero.WriteFile(fs, "/keys/README", []byte("junk"), 0o600)
	list, err := d.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "test-ecdsa-p256" || list[1].Name != "test-ed25519" {
		t.Errorf("List = %v", list)
	}

	// Load asks once for a passphrase that opens several keys.
	got, err := d.Load(a.ID())
	if err != nil || got.ID() != a.ID() {
		t.Fatalf("Load: %v", err)
	}
	s, err := d.Signer(b.ID())
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := s.SignMessage(bytes.NewReader([]byte("m")))
	if Verify(b.Public, []byte("m"), sig) != nil {
		t.Error("Dir signer does not sign for its key")
	}
	if asked != 1 {
		t.Errorf("passphrase asked %d times, want 1", asked)
	}

	if _, err := d.Load(strings.Repeat("f", 64)); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("unknown key: %v, want ErrKeyNotFound", err)
	}

	// A wrong passphrase is an error, not a silent skip.
	d2 := &Dir{FS: fs, Path: "/keys", Passphrase: func(string, bool) ([]byte, error) { return []byte("test-only-wrong"), nil }}
	if _, err := d2.Load(a.ID()); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v", err)
	}
	d3 := &Dir{FS: fs, Path: "/keys"}
	if _, err := d3.Load(a.ID()); err == nil || !strings.Contains(err.Error(), "needs a passphrase") {
		t.Errorf("no passphrase source: %v", err)
	}

	// A corrupt key file makes List fail, naming it.
	afero.WriteFile(fs, "/keys/broken"+KeySuffix, []byte("{}"), 0o600)
	if _, err := d.List(); err == nil || !strings.Contains(err.Error(), "broken.key") {
		t.Errorf("List with a corrupt file: %v", err)
	}
}

func mustID(k *metadata.Key) string {
	id, _ := k.ID()
	return id
}

func TestMemKeyring(t *testing.T) {
	t.Parallel()
	ks, _ := fixtures(t)
	kr := MemKeyring{}.Add(ks[Ed25519], ks[ECDSAP256])
	for _, k := range ks {
		s, err := kr.Signer(k.ID())
		if err != nil {
			t.Fatal(err)
		}
		var _ signature.Signer = s
		sig, _ := s.SignMessage(bytes.NewReader([]byte("m")))
		if Verify(k.Public, []byte("m"), sig) != nil {
			t.Errorf("%s: signer does not sign for its key", k.Name)
		}
	}
	if _, err := kr.Signer("nope"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("missing key: %v", err)
	}
}

func TestFromPrivateRejectsUnsupported(t *testing.T) {
	t.Parallel()
	// An ed25519 key works through FromPrivate; a raw seed type does not
	// satisfy crypto.Signer, so check the signer path with an odd key.
	_, priv, _ := ed25519.GenerateKey(nil)
	k, err := FromPrivate("x", priv)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(priv.Public().(ed25519.PublicKey)) != k.Public.Value.PublicKey {
		t.Error("public key value is not the hex of the ed25519 key")
	}
	if _, err := signerFor(oddSigner{}); err == nil {
		t.Error("signerFor accepted an unsupported key type")
	}
}

type oddSigner struct{}

func (oddSigner) Public() crypto.PublicKey { return nil }
func (oddSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("not a real signer")
}

func TestReadPublic(t *testing.T) {
	t.Parallel()
	ks, _ := fixtures(t)
	fs := afero.NewMemMapFs()
	d := &Dir{FS: fs, Path: "/keys"}
	k := ks[Ed25519]
	if err := d.Write(k, testPassphrase); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{PubSuffix, KeySuffix} { // the .key file's clear public part
		pub, err := ReadPublic(fs, filepath.Join("/keys", k.Name+suffix))
		if err != nil || mustID(pub) != k.ID() {
			t.Errorf("ReadPublic(%s): %v", suffix, err)
		}
	}
	afero.WriteFile(fs, "/manifest.json", []byte(`{"model_id":"x"}`), 0o644)
	if _, err := ReadPublic(fs, "/manifest.json"); err == nil || !strings.Contains(err.Error(), "neither a public key") {
		t.Errorf("ReadPublic of another file: %v", err)
	}
	afero.WriteFile(fs, "/big.pub", bytes.Repeat([]byte(" "), maxKeyFileSize+1), 0o644)
	if _, err := ReadPublic(fs, "/big.pub"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ReadPublic of a large file: %v", err)
	}
}
