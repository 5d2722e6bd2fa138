package fsverity

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestEnable enables fs-verity on a file where this machine's filesystem
// supports it (EDGETUF_VERITY_DIR names a directory on such a filesystem;
// default the test's temporary directory), and checks what it buys: the
// file is read-only for good and reads back the same. Elsewhere it skips
// with the reason.
func TestEnable(t *testing.T) {
	dir := t.TempDir()
	if d := os.Getenv("EDGETUF_VERITY_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "fsverity-test-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	path := filepath.Join(dir, "model.bin")
	data := bytes.Repeat([]byte("weights "), 10000)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f := openRO(t, path)
	if err := Enable(f); err != nil {
		t.Fatal(err)
	}
	if on, err := Enabled(f); err != nil || !on {
		t.Fatalf("Enabled = %v, %v after Enable", on, err)
	}
	if err := Enable(f); err != nil {
		t.Fatalf("Enable on a file that has it: %v", err)
	}
	if _, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		t.Fatal("a verity file opened for writing")
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
}

// TestEnableOpenForWriting: a file open for writing elsewhere is not
// enabled, and the failure is an error, never ErrNotSupported silently
// (on a filesystem without fs-verity it skips).
func TestEnableOpenForWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.bin")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write([]byte("weights"))
	if err := Enable(openRO(t, path)); err == nil {
		t.Fatal("enabled on a file open for writing")
	}
}

// openRO opens path read-only, skipping the test (with the reason) where
// its filesystem has no fs-verity: Enable on a file open for writing fails
// otherwise, so the probe is a copy.
func openRO(t *testing.T, path string) *os.File {
	t.Helper()
	probe := path + ".probe"
	if err := os.WriteFile(probe, []byte("probe"), 0o600); err != nil {
		t.Fatal(err)
	}
	pf, err := os.Open(probe)
	if err != nil {
		t.Fatal(err)
	}
	err = Enable(pf)
	pf.Close()
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("fs-verity is not available in %s: %v", filepath.Dir(path), err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestEnabledPlainFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("x"), 0o600)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if on, err := Enabled(f); err != nil || on {
		t.Fatalf("Enabled = %v, %v for a plain file", on, err)
	}
}
