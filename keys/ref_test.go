package keys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// signAndVerify signs TUF metadata with s and checks the result the way a
// TUF client does (go-tuf's VerifyDelegate against a root holding pub).
func signAndVerify(t *testing.T, s signature.Signer, pub *metadata.Key) {
	t.Helper()
	root := metadata.Root()
	if err := root.Signed.AddKey(pub, metadata.TARGETS); err != nil {
		t.Fatal(err)
	}
	tg := metadata.Targets()
	if _, err := tg.Sign(s); err != nil {
		t.Fatalf("signing targets metadata: %v", err)
	}
	if err := root.VerifyDelegate(metadata.TARGETS, tg); err != nil {
		t.Fatalf("go-tuf rejects the signature: %v", err)
	}
	// A changed payload must not verify.
	tg.Signed.Version++
	if err := root.VerifyDelegate(metadata.TARGETS, tg); err == nil {
		t.Fatal("go-tuf accepts the signature over changed metadata")
	}
}

func TestParseRef(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"file:targets":                   BackendFile,
		"file:/media/holder1/root-1.key": BackendFile,
		"pkcs11:token=edgetuf;object=targets-1?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/pin": BackendPKCS11,
		"pkcs11:token=my%20token;id=%01%02;type=private":                                                             BackendPKCS11,
		"pkcs11:serial=1234;object=k?pin-source=/etc/pin":                                                            BackendPKCS11,
		"pkcs11:slot-id=3;object=k;x-vendor=1":                                                                       BackendPKCS11,
		"awskms:///alias/edgetuf-timestamp":                                                                          BackendAWSKMS,
		"awskms:///1234abcd-12ab-34cd-56ef-1234567890ab":                                                             BackendAWSKMS,
		"awskms://kms.example:4566/alias/x":                                                                          BackendAWSKMS,
		"awskms:///arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab":                      BackendAWSKMS,
		"  awskms:///alias/trimmed\n":                                                                                BackendAWSKMS,
	}
	for s, backend := range good {
		r, err := ParseRef(s)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", s, err)
			continue
		}
		if r.Backend != backend {
			t.Errorf("ParseRef(%q).Backend = %q, want %q", s, r.Backend, backend)
		}
	}
	bad := map[string]string{
		"":                                       "empty",
		"targets":                                "no scheme",
		"file:":                                  "names no file",
		"pkcs11:token=t;object=k?pin-value=1234": "pin-value is not allowed",
		"pkcs11:token=t;object=k;pin-value=1234": "pin-value is not allowed",
		"pkcs11:object=k":                        "no token",
		"pkcs11:token=t":                         "no key",
		"pkcs11:token=t;object=k;frob=1":         "unknown path attribute",
		"pkcs11:token=t;object=k?module-path=libsofthsm2.so":      "not an absolute path",
		"pkcs11:token=t;object=k?pin-source=pin.txt":              "want file:",
		"pkcs11:token=t;token=u;object=k":                         "given twice",
		"pkcs11:token=t;object=k?module-name=softhsm2":            "module-name is not supported",
		"pkcs11:token=t;object=k;type=secret-key":                 "type",
		"pkcs11:token=%zz;object=k":                               "token",
		"awskms://alias/x":                                        "awskms://[ENDPOINT]/",
		"gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k": "not built into this mrepo",
		"hashivault://k":                                          "not built into this mrepo",
		"sigstore-kms-evil://x":                                   "unknown scheme",
		"file:a\nb":                                               "spans lines",
	}
	for s, want := range bad {
		_, err := ParseRef(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRef(%q) = %v, want an error containing %q", s, err, want)
		}
	}
}

func TestPKCS11URIPINSources(t *testing.T) {
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte("1234\r\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := parsePKCS11URI("pkcs11:token=t;object=k?pin-source=file:" + pinFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(PINEnv, "from-env")
	t.Setenv(ModuleEnv, "")
	os.Unsetenv(ModuleEnv)
	if p, err := u.PIN(nil, "t"); err != nil || p != "1234" {
		t.Errorf("pin-source file: %q, %v", p, err)
	}
	u.PINSource = ""
	if p, err := u.PIN(nil, "t"); err != nil || p != "from-env" {
		t.Errorf("pin from %s: %q, %v", PINEnv, p, err)
	}
	os.Unsetenv(PINEnv)
	if _, err := u.PIN(nil, "t"); err == nil || !strings.Contains(err.Error(), PINEnv) {
		t.Errorf("no PIN source: %v", err)
	}
	asked := ""
	if p, err := u.PIN(func(purpose string, _ bool) ([]byte, error) { asked = purpose; return []byte("typed"), nil }, "t"); err != nil || p != "typed" || !strings.Contains(asked, `"t"`) {
		t.Errorf("prompt: %q, %v (asked %q)", p, err, asked)
	}
	if _, err := u.Module(); err == nil {
		t.Error("a reference without module-path and no " + ModuleEnv + " has a module")
	}
	mod := filepath.Join(t.TempDir(), "module.so")
	if err := os.WriteFile(mod, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ModuleEnv, mod)
	if m, err := u.Module(); err != nil || m != mod {
		t.Errorf("module from %s: %q, %v", ModuleEnv, m, err)
	}
}

// A file: reference points at an encrypted key file elsewhere (a root key
// holder's medium); adding it reads only the public part.
func TestFileRef(t *testing.T) {
	t.Parallel()
	ks, files := fixtures(t)
	fs := afero.NewOsFs()
	media := t.TempDir()
	if err := os.WriteFile(filepath.Join(media, "holder.key"), files[Ed25519], 0o600); err != nil {
		t.Fatal(err)
	}
	asked := 0
	kd := &Dir{FS: fs, Path: filepath.Join(t.TempDir(), "keys"), Passphrase: func(string, bool) ([]byte, error) {
		asked++
		return testPassphrase, nil
	}}
	ref, err := ParseRef("file:" + filepath.Join(media, "holder"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := kd.AddRef("root-1", ref, "")
	if err != nil {
		t.Fatal(err)
	}
	if asked != 0 {
		t.Error("adding a file: reference asked for a passphrase")
	}
	want := ks[Ed25519].ID()
	if k.ID() != want {
		t.Fatalf("key ID %s, want %s", k.ID(), want)
	}
	if _, err := kd.AddRef("root-1", ref, ""); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second AddRef of one name: %v", err)
	}
	if _, err := kd.AddRef("x", ref, Ed25519); err == nil {
		t.Error("a file: reference generated a key")
	}
	for _, name := range []string{"", ".", "..", "a/b", ".hidden"} {
		if _, err := kd.AddRef(name, ref, ""); err == nil {
			t.Errorf("AddRef accepted the name %q", name)
		}
	}
	refs, err := kd.Refs()
	if err != nil || len(refs) != 1 || refs[0].Name != "root-1" || refs[0].KeyID != want || refs[0].Backend != BackendFile {
		t.Fatalf("Refs() = %+v, %v", refs, err)
	}
	s, err := kd.Signer(want)
	if err != nil {
		t.Fatal(err)
	}
	if asked != 1 {
		t.Errorf("passphrase asked %d times, want 1", asked)
	}
	signAndVerify(t, s, k.Public)

	// The key file changes under the reference: signing refuses.
	if err := os.WriteFile(filepath.Join(media, "holder.key"), files[ECDSAP256], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := kd.Signer(want); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("signer for a replaced key file: %v", err)
	}
	// A key ID no reference or key file holds is ErrKeyNotFound.
	if _, err := kd.Signer(ks[ECDSAP256].ID()); err == nil {
		t.Error("found a key that is not there")
	}
	// A reference without its public key is an error, not a silent skip.
	os.Remove(filepath.Join(kd.Path, "root-1.pub"))
	if _, err := kd.Refs(); err == nil || !strings.Contains(err.Error(), "no public key") {
		t.Errorf("Refs() with NAME.pub missing: %v", err)
	}
}
