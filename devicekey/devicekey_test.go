package devicekey

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
)

// peerAgrees checks k's ECDH against a software peer (crypto/ecdh): both
// sides compute the same 32-byte secret, and a different peer gives a
// different one.
func peerAgrees(t *testing.T, k Key) {
	t.Helper()
	for i := 0; i < 2; i++ {
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		want, err := peer.ECDH(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.ECDH(peer.PublicKey())
		if err != nil {
			t.Fatalf("ECDH: %v", err)
		}
		if len(got) != 32 || !bytes.Equal(got, want) {
			t.Fatalf("ECDH secret %x, the peer computed %x", got, want)
		}
	}
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.ECDH(x.PublicKey()); err == nil {
		t.Fatal("ECDH with an X25519 peer key succeeded")
	}
}

// wantCode fails unless err is an *Error with code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code || e.ErrorCode() != code || !strings.HasPrefix(err.Error(), code+": ") {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

// TestFileKeyRoundTrip: a software key is created 0600, agrees with a
// software peer after being opened again, is never replaced unless told
// (DEVICE_KEY_EXISTS), and replacing it makes a new key.
func TestFileKeyRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k, ref, err := Create("file", dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if ref != "file:"+DefaultFile {
		t.Fatalf("stored reference %q", ref)
	}
	fi, err := os.Stat(filepath.Join(dir, DefaultFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	k2, err := Open(ref, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Public().Equal(k.Public()) {
		t.Fatal("the reopened key has another public key")
	}
	peerAgrees(t, k2)
	_, _, err = Create(ref, dir, false)
	wantCode(t, err, CodeExists)
	k3, _, err := Create(ref, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if k3.Public().Equal(k.Public()) {
		t.Fatal("replacing the key kept it")
	}
	// An absolute path outside the key directory.
	abs := filepath.Join(t.TempDir(), "k.pem")
	if _, ref, err := Create("file:"+abs, dir, false); err != nil || ref != "file:"+abs {
		t.Fatalf("absolute file key: %q, %v", ref, err)
	}
}

// TestTPMKeyRoundTrip: a key created in swtpm agrees with a software
// peer, and again after the TPM restarts (a device reboot).
func TestTPMKeyRoundTrip(t *testing.T) {
	sw := backendtest.StartSWTPM(t)
	dir := t.TempDir()
	k, ref, err := Create("tpm:"+sw.Socket, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if ref != "tpm:"+sw.Socket {
		t.Fatalf("stored reference %q", ref)
	}
	peerAgrees(t, k)
	_, _, err = Create(ref, dir, false)
	wantCode(t, err, CodeExists)
	sw.Restart(t)
	k2, err := Open(ref, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Public().Equal(k.Public()) {
		t.Fatal("the key has another public key after a restart")
	}
	peerAgrees(t, k2)
	peerAgrees(t, k) // a key opened before the restart works after it
	// The TPM stopped: the key is unavailable, with its code.
	sw.Stop()
	_, err = k.ECDH(k.Public())
	wantCode(t, err, CodeUnavailable)
	_, err = Open(ref, dir)
	wantCode(t, err, CodeUnavailable)
}

// TestDamagedKeyFailsClosed: a damaged reference, a missing, damaged,
// replaced or unprotected key file, and a missing or damaged TPM blob
// are DEVICE_KEY_UNAVAILABLE; nothing else is used instead.
func TestDamagedKeyFailsClosed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, ref := range []string{"", "file:", "file:sub/", "tpm:relative/tpm", "hsm:x", "nothing", "file:a\nb", strings.Repeat("f", 5000), "file:missing.pem", "tpm:" + filepath.Join(dir, "no-tpm")} {
		_, err := Open(ref, dir)
		wantCode(t, err, CodeUnavailable)
	}
	if _, _, err := Create("file:x.pem", dir, false); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x.pem")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(filepath.Join("testdata", "p384.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"garbage":     []byte("not a key\n"),
		"truncated":   good[:len(good)/2],
		"trailing":    append(append([]byte{}, good...), "junk"...),
		"public only": []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
		"P-384":       other,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open("file:x.pem", dir)
		wantCode(t, err, CodeUnavailable)
		t.Logf("%s: %v", name, err)
	}
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)
	_, err = Open("file:x.pem", dir)
	wantCode(t, err, CodeUnavailable)
	os.Chmod(path, 0o600)
	if _, err := Open("file:x.pem", dir); err != nil {
		t.Fatalf("the repaired key: %v", err)
	}
	// A symbolic link in its place is not followed.
	if err := os.Symlink(path, filepath.Join(dir, "link.pem")); err != nil {
		t.Fatal(err)
	}
	_, err = Open("file:link.pem", dir)
	wantCode(t, err, CodeUnavailable)

	// TPM blobs are checked before any TPM is reached.
	blobPath := filepath.Join(dir, TPMBlobFile)
	for _, data := range []string{"", "{}", `{"format":"edgetuf-device-key-tpm-v1","public":"","private":""}`, "[1,2]"} {
		if err := os.WriteFile(blobPath, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open("tpm:"+filepath.Join(dir, "no-tpm"), dir)
		wantCode(t, err, CodeUnavailable)
		// The path names no TPM either: only the blob's own error shows
		// that the blob was what refused it.
		if !strings.Contains(err.Error(), "TPM key blob") {
			t.Errorf("%q: refused for another reason: %v", data, err)
		}
	}
}

// TestParseRef: the reference forms and their canonical spelling.
func TestParseRef(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"file":                         "file:device-key.pem",
		"file:/etc/k.pem":              "file:/etc/k.pem",
		"FILE:k.pem":                   "file:k.pem",
		"tpm":                          "tpm:/dev/tpmrm0",
		"tpm:/run/swtpm.sock":          "tpm:/run/swtpm.sock",
		"pkcs11:token=t;object=device": "pkcs11:token=t;object=device",
	} {
		r, err := ParseRef(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseRef(%q) = %q, %v; want %q", in, r, err, want)
		}
	}
}

// TestPKCS11NotBuiltIn: without devicekey/pkcs11key (this package's test
// binary does not import it), a pkcs11: reference says PKCS#11 is not
// built in, with DEVICE_KEY_UNAVAILABLE.
func TestPKCS11NotBuiltIn(t *testing.T) {
	t.Parallel()
	for _, f := range []func() error{
		func() error { _, err := Open("pkcs11:token=t;object=k", t.TempDir()); return err },
		func() error { _, _, err := Create("pkcs11:token=t;object=k", t.TempDir(), false); return err },
	} {
		err := f()
		wantCode(t, err, CodeUnavailable)
		if !errors.Is(err, ErrPKCS11NotBuiltIn) || !strings.Contains(err.Error(), "not built into this program") {
			t.Fatalf("error %v", err)
		}
	}
}

// TestPublicForms: the PEM and fingerprint of a public key are the
// standard ones (SubjectPublicKeyInfo).
func TestPublicForms(t *testing.T) {
	t.Parallel()
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PublicPEM(priv.PublicKey())
	if err != nil || !bytes.HasPrefix(p, []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Fatalf("PEM %s, %v", p, err)
	}
	if fp := Fingerprint(priv.PublicKey()); !strings.HasPrefix(fp, "sha256:") || len(fp) != 7+64 {
		t.Fatalf("fingerprint %q", fp)
	}
}

// TestCodesDocumented: the codes are spelled as documented, each a row of
// docs/error-codes.md.
func TestCodesDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/error-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]string{CodeUnavailable: "DEVICE_KEY_UNAVAILABLE", CodeExists: "DEVICE_KEY_EXISTS"} {
		if code != want || !strings.Contains(string(doc), "| `"+want+"` |") {
			t.Errorf("%s: spelled %s, or not a row of docs/error-codes.md", want, code)
		}
	}
}
