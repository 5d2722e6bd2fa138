package keys

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/fileperm"
	"github.com/spf13/afero"
)

// permDir returns a key directory on the real filesystem holding the
// Ed25519 fixture key as NAME.key (0600) and NAME.pub (0644), mode 0700.
// (Tests may run as root, which ignores permissions; the checks read the
// mode bits, so they hold for root too.)
func permDir(t *testing.T) (*Dir, string) {
	t.Helper()
	ks, files := fixtures(t)
	dir := filepath.Join(t.TempDir(), "keys")
	kd := &Dir{FS: afero.NewOsFs(), Path: dir, Passphrase: func(string, bool) ([]byte, error) { return testPassphrase, nil }}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "targets"+KeySuffix), files[Ed25519], 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err := EncodePublic(ks[Ed25519].Public)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "targets"+PubSuffix), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return kd, ks[Ed25519].ID()
}

func chmod(t *testing.T, p string, m os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, m); err != nil {
		t.Fatal(err)
	}
}

// wantInsecure requires an ErrInsecure error naming path, its mode and
// the fix.
func wantInsecure(t *testing.T, what string, err error, path string, mode os.FileMode, fix string) {
	t.Helper()
	if !errors.Is(err, fileperm.ErrInsecure) || !strings.Contains(err.Error(), path) ||
		!strings.Contains(err.Error(), fmt.Sprintf("mode %04o", mode)) || !strings.Contains(err.Error(), fix) {
		t.Fatalf("%s: %v, want an insecure-permissions error naming %s, mode %04o and %q", what, err, path, mode, fix)
	}
}

// TestKeyDirPermissions: a key directory group or others may write, or a
// private key group or others may read or write, is refused before any
// key is read, with the file, its mode and the chmod that fixes it; the
// same key signs once the modes are fixed.
func TestKeyDirPermissions(t *testing.T) {
	t.Parallel()
	kd, id := permDir(t)
	key := filepath.Join(kd.Path, "targets"+KeySuffix)
	pub := filepath.Join(kd.Path, "targets"+PubSuffix)
	for _, m := range []os.FileMode{0o777, 0o770, 0o702} {
		chmod(t, kd.Path, m)
		_, err := kd.Signer(id)
		wantInsecure(t, "key directory", err, kd.Path, m, "chmod 700 "+kd.Path)
		_, err = kd.List()
		wantInsecure(t, "key directory (List)", err, kd.Path, m, "chmod 700")
	}
	chmod(t, kd.Path, 0o755) // readable by others is fine for a directory
	for _, m := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o666} {
		chmod(t, key, m)
		_, err := kd.Signer(id)
		wantInsecure(t, "private key", err, key, m, "chmod 600 "+key)
	}
	chmod(t, key, 0o400)
	chmod(t, pub, 0o444)
	if _, err := kd.Signer(id); err != nil {
		t.Fatalf("with safe modes: %v", err)
	}
	// Write refuses to add a key to an unsafe directory.
	chmod(t, kd.Path, 0o777)
	k, err := Generate("new", Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	err = kd.Write(k, testPassphrase)
	wantInsecure(t, "Write", err, kd.Path, 0o777, "chmod 700")
	if _, err := os.Stat(filepath.Join(kd.Path, "new"+KeySuffix)); err == nil {
		t.Fatal("a key was written into a world-writable directory")
	}
}

// TestPlantedRefRefused: a NAME.ref planted in a directory others can
// write (or a NAME.ref or NAME.pub others can write) would make mrepo load
// a PKCS#11 module of the planter's choice: it is refused before the
// reference is even parsed, and a module path group or others can write
// is refused before the module is loaded.
func TestPlantedRefRefused(t *testing.T) {
	t.Parallel()
	kd, id := permDir(t)
	// The planted module: a file anyone could have written.
	evilDir := t.TempDir()
	evil := filepath.Join(evilDir, "evil.so")
	if err := os.WriteFile(evil, []byte("not a module"), 0o666); err != nil {
		t.Fatal(err)
	}
	chmod(t, evil, 0o666)
	ref := filepath.Join(kd.Path, "targets"+RefSuffix)
	if err := os.WriteFile(ref, []byte("pkcs11:token=t;object=k?module-path="+evil+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(kd.Path, "targets"+PubSuffix)

	chmod(t, kd.Path, 0o777)
	_, err := kd.Signer(id)
	wantInsecure(t, "directory", err, kd.Path, 0o777, "chmod 700")
	chmod(t, kd.Path, 0o700)

	chmod(t, ref, 0o666)
	_, err = kd.Signer(id)
	wantInsecure(t, "reference", err, ref, 0o666, "chmod go-w "+ref)
	_, err = kd.Refs()
	wantInsecure(t, "reference (Refs)", err, ref, 0o666, "chmod go-w")
	chmod(t, ref, 0o644)

	chmod(t, pub, 0o664)
	_, err = kd.Signer(id)
	wantInsecure(t, "public key", err, pub, 0o664, "chmod go-w "+pub)
	chmod(t, pub, 0o644)

	// The reference itself is safe now, its module is not: refused by the
	// module check, before any load.
	r, _, err := kd.readRef("targets")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.pkcs11.Module()
	wantInsecure(t, "module", err, evil, 0o666, "chmod go-w "+evil)
	chmod(t, evil, 0o644)
	chmod(t, evilDir, 0o777)
	_, err = r.pkcs11.Module()
	wantInsecure(t, "module directory", err, evilDir, 0o777, "chmod 700 "+evilDir)
	chmod(t, evilDir, 0o755)
	if m, err := r.pkcs11.Module(); err != nil || m != evil {
		t.Fatalf("safe module path: %q, %v", m, err)
	}
}

// TestSecretFilePermissions: a file: reference's key file and a PKCS#11
// PIN source that group or others may read are refused before they are
// read.
func TestSecretFilePermissions(t *testing.T) {
	t.Parallel()
	_, files := fixtures(t)
	media := t.TempDir()
	holder := filepath.Join(media, "holder.key")
	if err := os.WriteFile(holder, files[Ed25519], 0o600); err != nil {
		t.Fatal(err)
	}
	chmod(t, holder, 0o644)
	kd := &Dir{FS: afero.NewOsFs(), Path: filepath.Join(t.TempDir(), "keys")}
	ref, err := ParseRef("file:" + filepath.Join(media, "holder"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = kd.AddRef("root-1", ref, "")
	wantInsecure(t, "file: reference", err, holder, 0o644, "chmod 600 "+holder)

	pin := filepath.Join(media, "pin")
	if err := os.WriteFile(pin, []byte("1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	chmod(t, pin, 0o640)
	u, err := parsePKCS11URI("pkcs11:token=t;object=k?pin-source=file:" + pin)
	if err != nil {
		t.Fatal(err)
	}
	_, err = u.PIN(nil, "t")
	wantInsecure(t, "PIN source", err, pin, 0o640, "chmod 600 "+pin)
	chmod(t, pin, 0o600)
	if p, err := u.PIN(nil, "t"); err != nil || p != "1234" {
		t.Fatalf("PIN source 0600: %q, %v", p, err)
	}
}
