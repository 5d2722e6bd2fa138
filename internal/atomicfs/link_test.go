package atomicfs

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"
)

// TestLink: the second name is the same file, made again over itself it
// leaves no temporary name, and a filesystem without links says so
// (ErrNoLink) and is left as it was.
func TestLink(t *testing.T) {
	dir := t.TempDir()
	fs := afero.NewOsFs()
	old := filepath.Join(dir, "a", "x")
	if err := WriteFile(fs, old, []byte("bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(dir, "b", "y")
	for i := 0; i < 2; i++ {
		if err := Link(fs, old, final); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := os.Stat(old)
	b, err := os.Stat(final)
	if err != nil || !os.SameFile(a, b) {
		t.Fatalf("not one file: %v", err)
	}
	if got := listFiles(t, fs, filepath.Join(dir, "b")); len(got) != 1 {
		t.Errorf("b holds %v", got)
	}

	mem := afero.NewMemMapFs()
	if err := WriteFile(mem, "/a/x", []byte("bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Link(mem, "/a/x", "/b/y"); !errors.Is(err, ErrNoLink) {
		t.Errorf("err = %v, want ErrNoLink", err)
	}
	if _, err := mem.Stat("/b"); !os.IsNotExist(err) {
		t.Errorf("/b: %v", err)
	}
}

// TestCommitNew: the file gets its final name only if nothing has it;
// an existing file (made after the caller looked) is left as it is,
// and no temporary file stays either way. Not the OS filesystem:
// ErrNoLink, nothing left.
func TestCommitNew(t *testing.T) {
	fs, dir := afero.NewOsFs(), t.TempDir()
	final := filepath.Join(dir, "key")
	commit := func(data string) error {
		f, err := Create(fs, dir, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Abort()
		f.Write([]byte(data))
		return f.CommitNew(final)
	}
	if err := commit("first"); err != nil {
		t.Fatal(err)
	}
	if err := commit("second"); !errors.Is(err, iofs.ErrExist) {
		t.Fatalf("over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(final); string(b) != "first" {
		t.Fatalf("the existing file was replaced: %q", b)
	}
	if fi, err := os.Stat(final); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode().Perm(), err)
	}
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Fatalf("%d files left, want 1", len(names))
	}
	mem := afero.NewMemMapFs()
	f, err := Create(mem, "/r", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CommitNew("/r/key"); !errors.Is(err, ErrNoLink) {
		t.Fatalf("in memory: %v", err)
	}
	if names, _ := afero.ReadDir(mem, "/r"); len(names) != 0 {
		t.Fatalf("in memory: %d files left", len(names))
	}
}
