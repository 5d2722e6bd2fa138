//go:build unix

package safefs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
)

// tree makes root/a/b/file and, outside root, out/ with a file and a
// directory holding one, the targets the links below point to.
func tree(t *testing.T) (root, out string) {
	t.Helper()
	base := t.TempDir()
	root, out = filepath.Join(base, "root"), filepath.Join(base, "out")
	for _, d := range []string{filepath.Join(root, "a", "b"), filepath.Join(out, "dir")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(root, "a", "b", "file"), filepath.Join(out, "file"), filepath.Join(out, "dir", "inner")} {
		if err := os.WriteFile(f, []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root, out
}

// wantOutsideIntact checks that nothing outside the root changed.
func wantOutsideIntact(t *testing.T, out string) {
	t.Helper()
	for _, f := range []string{filepath.Join(out, "file"), filepath.Join(out, "dir", "inner")} {
		if b, err := os.ReadFile(f); err != nil || string(b) != "keep" {
			t.Fatalf("%s: %q, %v: the file outside the root was changed", f, b, err)
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 2 {
		t.Fatalf("outside directory holds %d entries, want 2", len(entries))
	}
	if entries, _ := os.ReadDir(filepath.Join(out, "dir")); len(entries) != 1 {
		t.Fatalf("outside dir/ holds %d entries, want 1", len(entries))
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestSymlinkedDirectoryNeverEntered: with a directory below the root
// replaced by a link to a directory outside it, no operation through that
// component reaches outside: each fails with ErrSymlink.
func TestSymlinkedDirectoryNeverEntered(t *testing.T) {
	t.Parallel()
	root, out := tree(t)
	if err := os.RemoveAll(filepath.Join(root, "a", "b")); err != nil {
		t.Fatal(err)
	}
	symlink(t, filepath.Join(out, "dir"), filepath.Join(root, "a", "b"))
	f := New(root)
	inner := filepath.Join(root, "a", "b", "inner")
	ops := map[string]func() error{
		"open":      func() error { _, err := f.Open(inner); return err },
		"create":    func() error { _, err := f.OpenFile(inner, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600); return err },
		"new":       func() error { _, err := f.Create(filepath.Join(root, "a", "b", "new")); return err },
		"readfile":  func() error { _, err := f.ReadFile(inner, 100); return err },
		"readdir":   func() error { _, err := f.ReadDir(filepath.Join(root, "a", "b")); return err },
		"lstat":     func() error { _, err := f.Lstat(inner); return err },
		"mkdirall":  func() error { return f.MkdirAll(filepath.Join(root, "a", "b", "c", "d"), 0o700) },
		"mkdir":     func() error { return f.Mkdir(filepath.Join(root, "a", "b", "c"), 0o700) },
		"mkdirtemp": func() error { _, err := f.MkdirTemp(filepath.Join(root, "a", "b"), "x-"); return err },
		"remove":    func() error { return f.Remove(inner) },
		"removeall": func() error { return f.RemoveAll(inner) },
		"rename":    func() error { return f.Rename(inner, filepath.Join(root, "a", "moved")) },
		"renameto":  func() error { return f.Rename(filepath.Join(root, "a"), filepath.Join(root, "a", "b", "x")) },
		"chmod":     func() error { return f.Chmod(inner, 0o777) },
		"atomic": func() error {
			return atomicfs.WriteFile(f.Afero(), filepath.Join(root, "a", "b", "w"), []byte("x"), 0o600)
		},
	}
	for name, op := range ops {
		err := op()
		if !errors.Is(err, ErrSymlink) {
			t.Errorf("%s: %v, want ErrSymlink", name, err)
		}
	}
	wantOutsideIntact(t, out)
}

// TestSymlinkedFile: a link where a file is expected is neither opened
// nor written through; removing or renaming it acts on the link itself.
func TestSymlinkedFile(t *testing.T) {
	t.Parallel()
	root, out := tree(t)
	link := filepath.Join(root, "a", "link")
	symlink(t, filepath.Join(out, "file"), link)
	f := New(root)
	for _, flag := range []int{os.O_RDONLY, os.O_RDWR | os.O_CREATE, os.O_WRONLY | os.O_TRUNC, os.O_WRONLY | os.O_APPEND | os.O_CREATE} {
		if _, err := f.OpenFile(link, flag, 0o600); !errors.Is(err, ErrSymlink) {
			t.Errorf("open flag %#x: %v, want ErrSymlink", flag, err)
		}
	}
	if _, err := OpenFile(link, os.O_RDWR|os.O_CREATE, 0o600); !errors.Is(err, ErrSymlink) {
		t.Errorf("OpenFile: %v, want ErrSymlink", err)
	}
	if fi, err := f.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("lstat: %v, %v", fi, err)
	}
	// A rename over the link replaces the link.
	if err := atomicfs.WriteFile(f.Afero(), link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("after the atomic write, %s: %v %v", link, fi, err)
	}
	symlink(t, filepath.Join(out, "dir"), filepath.Join(root, "a", "dirlink"))
	if err := f.RemoveAll(filepath.Join(root, "a", "dirlink")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "a", "dirlink")); !os.IsNotExist(err) {
		t.Fatalf("the link was not removed: %v", err)
	}
	wantOutsideIntact(t, out)
}

// TestRemoveAllKeepsLinkedTrees: RemoveAll of a directory holding links to
// outside files and directories removes the links, not their targets.
func TestRemoveAllKeepsLinkedTrees(t *testing.T) {
	t.Parallel()
	root, out := tree(t)
	symlink(t, filepath.Join(out, "dir"), filepath.Join(root, "a", "b", "d"))
	symlink(t, filepath.Join(out, "file"), filepath.Join(root, "a", "b", "f"))
	symlink(t, out, filepath.Join(root, "a", "up"))
	f := New(root)
	if err := f.RemoveAll(filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "a")); !os.IsNotExist(err) {
		t.Fatalf("a/ still there: %v", err)
	}
	wantOutsideIntact(t, out)
	if err := f.RemoveAll(root); !errors.Is(err, ErrOutside) {
		t.Fatalf("RemoveAll(root): %v, want ErrOutside", err)
	}
	if err := f.RemoveAll(filepath.Join(root, "..", "out")); !errors.Is(err, ErrOutside) {
		t.Fatalf("RemoveAll(../out): %v, want ErrOutside", err)
	}
	wantOutsideIntact(t, out)
}

// TestFIFORefusedWithoutBlocking: a FIFO (which blocks a reader's open
// until a writer comes) is refused by every open, without blocking.
func TestFIFORefusedWithoutBlocking(t *testing.T) {
	t.Parallel()
	root, _ := tree(t)
	fifo := filepath.Join(root, "a", "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	f := New(root)
	for _, flag := range []int{os.O_RDONLY, os.O_RDWR, os.O_WRONLY | os.O_APPEND | os.O_CREATE} {
		if _, err := f.OpenFile(fifo, flag, 0o600); !errors.Is(err, ErrNotRegular) {
			t.Errorf("open flag %#x: %v, want ErrNotRegular", flag, err)
		}
	}
	if _, err := f.ReadFile(fifo, 10); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile: %v", err)
	}
	if _, err := f.ReadDir(fifo); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadDir: %v", err)
	}
	if err := f.MkdirAll(filepath.Join(fifo, "x"), 0o700); !errors.Is(err, ErrNotDir) {
		t.Errorf("MkdirAll through a FIFO: %v, want ErrNotDir", err)
	}
	if err := f.RemoveAll(fifo); err != nil {
		t.Errorf("RemoveAll: %v", err)
	}
}

// TestOrdinaryUse: the operations work on ordinary files and directories.
func TestOrdinaryUse(t *testing.T) {
	t.Parallel()
	root, _ := tree(t)
	f := New(root)
	if err := f.MkdirAll(filepath.Join(root, "x/y/z"), 0o700); err != nil {
		t.Fatal(err)
	}
	w, err := f.OpenFile(filepath.Join(root, "x", "y", "z", "f"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("hello")
	w.Close()
	if b, err := f.ReadFile(filepath.Join(root, "x/y/z/f"), 5); err != nil || string(b) != "hello" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := f.ReadFile(filepath.Join(root, "x/y/z/f"), 4); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("bound: %v", err)
	}
	tmp, err := f.MkdirTemp(filepath.Join(root, "x"), ".t-")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Rename(filepath.Join(root, "x", "y"), filepath.Join(tmp, "y")); err != nil {
		t.Fatal(err)
	}
	entries, err := f.ReadDir(filepath.Join(tmp, "y", "z"))
	if err != nil || len(entries) != 1 || entries[0].Name() != "f" {
		t.Fatalf("%v %v", entries, err)
	}
	d, err := f.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := atomicfs.WriteFile(f.Afero(), filepath.Join(root, "x", "new", "w"), []byte("w"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.RemoveAll(filepath.Join(root, "x")); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(filepath.Join(root, "a", "b", "file")); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(filepath.Join(root, "a", "b")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Lstat(filepath.Join(root, "a/b")); !os.IsNotExist(err) {
		t.Fatalf("%v", err)
	}
}

// TestRelativePaths: a relative root and relative names are relative to
// the working directory, as with package os.
func TestRelativePaths(t *testing.T) {
	root, _ := tree(t)
	t.Chdir(filepath.Dir(root))
	f := New("root")
	if b, err := f.ReadFile(filepath.Join("root", "a", "b", "file"), 10); err != nil || string(b) != "keep" {
		t.Fatalf("%q %v", b, err)
	}
	if err := atomicfs.WriteFile(f.Afero(), filepath.Join("root", "w"), []byte("w"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "w")); err != nil || string(b) != "w" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := f.Open("elsewhere"); !errors.Is(err, ErrOutside) {
		t.Fatalf("a name outside the root: %v", err)
	}
}
