package keys

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/spf13/afero"
)

// sealedOf returns the parsed encryption of a key file.
func sealedOf(t *testing.T, data []byte) *sealedKey {
	t.Helper()
	f, err := ParseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseSealed(f.Encrypted)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestKeyFileParams: online keys are written with onlineParams (N=2^13,
// r=8, p=10: 8 MiB), offline keys with offlineParams (N=2^17), and the
// class survives decryption.
func TestKeyFileParams(t *testing.T) {
	t.Parallel()
	ks, files := fixtures(t)
	if got := sealedOf(t, files[Ed25519]).KDF.Params; got != (scryptParams{N: 8192, R: 8, P: 10}) || got.memory() != 8<<20 {
		t.Errorf("online key file: scrypt %+v, want N=8192 r=8 p=10 (8 MiB)", got)
	}
	off := *ks[Ed25519]
	off.Offline = true
	data, err := EncodeFile(&off, testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	if got := sealedOf(t, data).KDF.Params; got != (scryptParams{N: 1 << 17, R: 8, P: 1}) {
		t.Errorf("offline key file: scrypt %+v, want N=131072 r=8 p=1", got)
	}
	f, _ := ParseFile(data)
	k, err := f.Decrypt(testPassphrase)
	if err != nil || !k.Offline || k.ID() != off.ID() {
		t.Fatalf("offline key decrypted as %+v, %v", k, err)
	}
	f, _ = ParseFile(files[Ed25519])
	if k, err := f.Decrypt(testPassphrase); err != nil || k.Offline {
		t.Fatalf("online key decrypted as offline=%v, %v", k != nil && k.Offline, err)
	}
}

// legacyFile returns the Ed25519 fixture's key file with its private key
// encrypted by go-securesystemslib at level.
func legacyFile(t *testing.T, level encrypted.KDFParameterStrength) []byte {
	t.Helper()
	ks, files := fixtures(t)
	der, err := x509.MarshalPKCS8PrivateKey(ks[Ed25519].Private)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encrypted.EncryptWithCustomKDFParameters(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), testPassphrase, level)
	if err != nil {
		t.Fatal(err)
	}
	return editFile(t, files[Ed25519], func(m map[string]any) { m["encrypted_pkcs8"] = json.RawMessage(enc) })
}

// TestSecureSystemsLibInterop: key files that go-securesystemslib
// encrypted (every online key written before 2026-12 has its Legacy
// parameters) decrypt here, and what seal writes with its parameters
// decrypts there: the composition of scrypt and secretbox is the same.
func TestSecureSystemsLibInterop(t *testing.T) {
	t.Parallel()
	ks, _ := fixtures(t)
	for _, level := range []encrypted.KDFParameterStrength{encrypted.Legacy, encrypted.Standard, encrypted.OWASP} {
		t.Run(fmt.Sprint(level), func(t *testing.T) {
			f, err := ParseFile(legacyFile(t, level))
			if err != nil {
				t.Fatal(err)
			}
			k, err := f.Decrypt(testPassphrase)
			if err != nil || k.ID() != ks[Ed25519].ID() {
				t.Fatalf("securesystemslib file: %v", err)
			}
			if want := level != encrypted.Legacy; k.Offline != want {
				t.Errorf("offline = %v, want %v (stronger than Legacy is offline)", k.Offline, want)
			}
		})
	}
	plain := []byte("test-only plaintext")
	enc, err := seal(plain, testPassphrase, legacyParams)
	if err != nil {
		t.Fatal(err)
	}
	got, err := encrypted.Decrypt(enc, testPassphrase)
	if err != nil || string(got) != string(plain) {
		t.Fatalf("securesystemslib cannot decrypt what seal wrote: %q, %v", got, err)
	}
}

// shape lists the paths and JSON types of a document's members.
func shape(t *testing.T, data []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(string, any)
	walk = func(p string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, c := range m {
				walk(p+"."+k, c)
			}
			return
		}
		out = append(out, fmt.Sprintf("%s:%T", p, v))
	}
	walk("", v)
	sort.Strings(out)
	return out
}

// TestKeyFileShape: our key file's encryption has exactly the members,
// and member types, of go-securesystemslib's.
func TestKeyFileShape(t *testing.T) {
	t.Parallel()
	_, files := fixtures(t)
	ours, _ := ParseFile(files[Ed25519])
	theirs, _ := ParseFile(legacyFile(t, encrypted.Legacy))
	if a, b := shape(t, ours.Encrypted), shape(t, theirs.Encrypted); !reflect.DeepEqual(a, b) {
		t.Errorf("shape differs:\nours   %v\ntheirs %v", a, b)
	}
}

// TestKeyFileTampered: a flipped bit in the ciphertext, nonce or salt
// fails authentication (ErrWrongPassphrase: the authenticator cannot tell
// a damaged file from a wrong passphrase), as does a wrong passphrase.
func TestKeyFileTampered(t *testing.T) {
	t.Parallel()
	_, files := fixtures(t)
	flip := func(path ...string) []byte {
		return editFile(t, files[Ed25519], func(m map[string]any) {
			for _, p := range path[:len(path)-1] {
				m = m[p].(map[string]any)
			}
			last := path[len(path)-1]
			b, err := base64.StdEncoding.DecodeString(m[last].(string))
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 1
			m[last] = base64.StdEncoding.EncodeToString(b)
		})
	}
	for name, data := range map[string][]byte{
		"ciphertext": flip("encrypted_pkcs8", "ciphertext"),
		"nonce":      flip("encrypted_pkcs8", "cipher", "nonce"),
		"salt":       flip("encrypted_pkcs8", "kdf", "salt"),
	} {
		t.Run(name, func(t *testing.T) {
			f, err := ParseFile(data)
			if err != nil {
				t.Fatal(err)
			}
			if k, err := f.Decrypt(testPassphrase); !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("tampered %s: key %v, err %v, want ErrWrongPassphrase", name, k, err)
			}
		})
	}
	f, _ := ParseFile(files[Ed25519])
	if _, err := f.Decrypt([]byte("test-only-wrong")); !errors.Is(err, ErrWrongPassphrase) || errors.Is(err, ErrKeyEncryption) {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

// TestKeyFileRefusedEncryption: parameters outside the allow-list (a
// hostile N, r or p that would make scrypt allocate gigabytes or run for
// hours), other algorithms, missing members, wrong lengths and ambiguous
// JSON are refused by ParseFile, before any scrypt run, and by Decrypt,
// with ErrKeyEncryption, never as a wrong passphrase.
func TestKeyFileRefusedEncryption(t *testing.T) {
	t.Parallel()
	_, files := fixtures(t)
	edit := func(f func(enc map[string]any)) []byte {
		return editFile(t, files[Ed25519], func(m map[string]any) { f(m["encrypted_pkcs8"].(map[string]any)) })
	}
	kdf := func(enc map[string]any) map[string]any { return enc["kdf"].(map[string]any) }
	params := func(n, r, p int) func(map[string]any) {
		return func(enc map[string]any) { kdf(enc)["params"] = map[string]any{"N": n, "r": r, "p": p} }
	}
	raw := func(old, new string) []byte {
		s := string(files[Ed25519])
		if !strings.Contains(s, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return []byte(strings.Replace(s, old, new, 1))
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"N 2^24", edit(params(1<<24, 8, 1)), "N=16777216 r=8 p=1 are not among those accepted"},
		{"r 1024", edit(params(1<<13, 1024, 10)), "are not among those accepted"},
		{"p 2^20", edit(params(1<<13, 8, 1<<20)), "are not among those accepted"},
		{"weaker", edit(params(1<<13, 8, 1)), "are not among those accepted"},
		{"N not a power of two", edit(params(8191, 8, 10)), "are not among those accepted"},
		{"negative", edit(params(-1, 8, 10)), "are not among those accepted"},
		{"params missing", edit(func(enc map[string]any) { delete(kdf(enc), "params") }), "are not among those accepted"},
		{"p missing", edit(func(enc map[string]any) { delete(kdf(enc)["params"].(map[string]any), "p") }), "are not among those accepted"},
		{"kdf missing", edit(func(enc map[string]any) { delete(enc, "kdf") }), "key derivation"},
		{"argon2", edit(func(enc map[string]any) { kdf(enc)["name"] = "argon2id" }), `key derivation "argon2id"`},
		{"cipher missing", edit(func(enc map[string]any) { delete(enc, "cipher") }), "cipher"},
		{"aes", edit(func(enc map[string]any) { enc["cipher"].(map[string]any)["name"] = "aes-gcm" }), `cipher "aes-gcm"`},
		{"salt missing", edit(func(enc map[string]any) { delete(kdf(enc), "salt") }), "salt of 0 bytes"},
		{"salt short", edit(func(enc map[string]any) { kdf(enc)["salt"] = base64.StdEncoding.EncodeToString(make([]byte, 31)) }), "salt of 31 bytes"},
		{"salt not base64", edit(func(enc map[string]any) { kdf(enc)["salt"] = "!!" }), "illegal base64"},
		{"nonce long", edit(func(enc map[string]any) {
			enc["cipher"].(map[string]any)["nonce"] = base64.StdEncoding.EncodeToString(make([]byte, 25))
		}), "nonce of 25 bytes"},
		{"nonce missing", edit(func(enc map[string]any) { delete(enc["cipher"].(map[string]any), "nonce") }), "nonce of 0 bytes"},
		{"ciphertext short", edit(func(enc map[string]any) { enc["ciphertext"] = base64.StdEncoding.EncodeToString(make([]byte, 15)) }), "shorter than its authenticator"},
		{"ciphertext missing", edit(func(enc map[string]any) { delete(enc, "ciphertext") }), "ciphertext of 0 bytes"},
		{"unknown member", edit(func(enc map[string]any) { enc["mac"] = "x" }), "unknown field"},
		{"not an object", edit(func(enc map[string]any) { enc["kdf"] = []any{} }), "cannot unmarshal"},
		{"N twice", raw(`"N": 8192,`, `"N": 8192, "N": 16777216,`), "N"},
		{"N miscased", raw(`"N": 8192`, `"n": 8192`), "n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := ParseFile(c.data)
			if err == nil {
				t.Fatalf("ParseFile accepted %s", c.data)
			}
			if !errors.Is(err, ErrKeyEncryption) || errors.Is(err, ErrWrongPassphrase) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseFile: %v, want ErrKeyEncryption mentioning %q", err, c.want)
			}
			// Decrypt of a File that skipped ParseFile checks as much.
			good, _ := ParseFile(files[Ed25519])
			var m map[string]json.RawMessage
			if json.Unmarshal(c.data, &m) != nil {
				t.Fatal("test data is not a JSON object")
			}
			good.Encrypted = m["encrypted_pkcs8"]
			if k, err := good.Decrypt(testPassphrase); !errors.Is(err, ErrKeyEncryption) {
				t.Fatalf("Decrypt: key %v, err %v, want ErrKeyEncryption", k, err)
			}
			_ = f
		})
	}
}

// TestReencrypt: a key file written with go-securesystemslib's Legacy
// parameters (as every online key before 2026-12) is written again with
// onlineParams, the same key, the same or a new passphrase; an offline
// key stays offline; a wrong passphrase and a bad name change nothing.
func TestReencrypt(t *testing.T) {
	t.Parallel()
	ks, _ := fixtures(t)
	want := ks[Ed25519]
	fs := afero.NewMemMapFs()
	pass := func(p string) PassphraseFunc {
		return func(string, bool) ([]byte, error) { return []byte(p), nil }
	}
	d := &Dir{FS: fs, Path: "/keys", Passphrase: pass(string(testPassphrase))}
	put := func(data []byte) {
		if err := afero.WriteFile(fs, "/keys/targets.key", data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	read := func() []byte {
		b, err := afero.ReadFile(fs, "/keys/targets.key")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	put(legacyFile(t, encrypted.Legacy))

	// Wrong current passphrase: refused, the file unchanged.
	before := read()
	wrong := &Dir{FS: fs, Path: "/keys", Passphrase: pass("test-only-wrong")}
	if _, err := wrong.Reencrypt("targets", nil, false); !errors.Is(err, ErrWrongPassphrase) || string(read()) != string(before) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	for _, bad := range []string{"", "../targets", "a/b", ".hidden"} {
		if _, err := d.Reencrypt(bad, nil, false); err == nil {
			t.Errorf("Reencrypt(%q) accepted", bad)
		}
	}

	// Same passphrase.
	k, err := d.Reencrypt("targets", nil, false)
	if err != nil || k.ID() != want.ID() {
		t.Fatalf("Reencrypt: %v", err)
	}
	if got := sealedOf(t, read()).KDF.Params; got != onlineParams {
		t.Fatalf("re-encrypted with %+v, want %+v", got, onlineParams)
	}
	f, _ := ParseFile(read())
	if k, err := f.Decrypt(testPassphrase); err != nil || k.ID() != want.ID() {
		t.Fatalf("re-encrypted file: %v", err)
	}

	// A new passphrase: the old one no longer opens it.
	if _, err := d.Reencrypt("targets", pass("test-only-new"), false); err != nil {
		t.Fatal(err)
	}
	f, _ = ParseFile(read())
	if _, err := f.Decrypt(testPassphrase); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after a change: %v", err)
	}
	if k, err := f.Decrypt([]byte("test-only-new")); err != nil || k.ID() != want.ID() {
		t.Fatalf("new passphrase: %v", err)
	}

	// Offline: asked for, then kept without asking.
	d.Passphrase = pass("test-only-new")
	if k, err := d.Reencrypt("targets", nil, true); err != nil || !k.Offline {
		t.Fatalf("Reencrypt offline: %v", err)
	}
	if k, err := d.Reencrypt("targets", nil, false); err != nil || !k.Offline || sealedOf(t, read()).KDF.Params != offlineParams {
		t.Fatalf("an offline key lost its class: %v", err)
	}
}

// TestDirListKeepsErrKeyEncryption: a key file with refused parameters in
// a key directory fails List (and so Load) with ErrKeyEncryption, the
// type kept through the file name List adds.
func TestDirListKeepsErrKeyEncryption(t *testing.T) {
	t.Parallel()
	_, files := fixtures(t)
	bad := editFile(t, files[Ed25519], func(m map[string]any) {
		m["encrypted_pkcs8"].(map[string]any)["kdf"].(map[string]any)["params"] = map[string]any{"N": 1 << 24, "r": 8, "p": 1}
	})
	fs := afero.NewMemMapFs()
	if err := fs.MkdirAll("/keys", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(fs, "/keys/targets.key", bad, 0o600); err != nil {
		t.Fatal(err)
	}
	d := &Dir{FS: fs, Path: "/keys"}
	if _, err := d.List(); !errors.Is(err, ErrKeyEncryption) || !strings.Contains(err.Error(), "targets.key") {
		t.Fatalf("List: %v, want ErrKeyEncryption naming targets.key", err)
	}
}
