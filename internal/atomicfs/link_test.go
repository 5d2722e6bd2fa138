package atomicfs

import (
	"errors"
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
