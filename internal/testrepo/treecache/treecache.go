// Package treecache builds a directory tree once per test process and
// gives every test its own copy: for fixtures that are slow to make (a
// repository ceremony derives keys with scrypt) and that tests then change.
// The tree is kept in memory; what the build returns besides the tree
// (keys, a pinned root) is shared by every copy, so a test that changes it
// must copy it first.
//
// It is test support only. It imports nothing of this module, so that the
// in-package tests of any package (the repository writer's included, which
// internal/testrepo imports) can use it.
package treecache

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/spf13/afero"
)

// Tree is a directory tree made once, on first use, by its build function.
type Tree[T any] struct {
	build  func(fs afero.Fs, dir string) (T, error)
	onDisk bool

	once sync.Once
	fs   afero.Fs // the built tree at builtDir; never changed after the build
	val  T
	err  error
}

// builtDir is where the tree is kept in its in-memory filesystem.
const builtDir = "/tree"

// New returns a tree that build makes in memory (an afero.MemMapFs) in dir.
func New[T any](build func(fs afero.Fs, dir string) (T, error)) *Tree[T] {
	return &Tree[T]{build: build}
}

// NewOnDisk returns a tree that build makes on the real filesystem (fs is
// afero.OsFs), for code that needs real files while it builds: dir is in a
// temporary directory that is read into memory, then removed, as soon as
// build returns. The copies keep each file's and directory's permissions.
func NewOnDisk[T any](build func(fs afero.Fs, dir string) (T, error)) *Tree[T] {
	return &Tree[T]{build: build, onDisk: true}
}

func (tr *Tree[T]) make() {
	if !tr.onDisk {
		tr.fs = afero.NewMemMapFs()
		tr.val, tr.err = tr.build(tr.fs, builtDir)
		return
	}
	tmp, err := os.MkdirTemp("", "treecache-")
	if err != nil {
		tr.err = err
		return
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "tree")
	if tr.val, tr.err = tr.build(afero.NewOsFs(), dir); tr.err != nil {
		return
	}
	tr.fs = afero.NewMemMapFs()
	tr.err = copyTree(afero.NewOsFs(), dir, tr.fs, builtDir)
}

// Value builds the tree if it is not built yet and returns what the build
// returned. A failed build fails t (and every later caller, with the same
// error).
func (tr *Tree[T]) Value(t testing.TB) T {
	t.Helper()
	tr.once.Do(tr.make)
	if tr.err != nil {
		t.Fatalf("treecache: building the tree: %v", tr.err)
	}
	return tr.val
}

// CopyTo writes a copy of the tree to dir on fs (dir must not exist, or be
// an empty directory: "/" of a new afero.MemMapFs) and returns what the
// build returned.
func (tr *Tree[T]) CopyTo(t testing.TB, fs afero.Fs, dir string) T {
	t.Helper()
	v, err := tr.Copy(fs, dir)
	if err != nil {
		t.Fatalf("treecache: %v", err)
	}
	return v
}

// Copy is CopyTo for code without a testing.TB: the build of another tree
// that starts from this one.
func (tr *Tree[T]) Copy(fs afero.Fs, dir string) (T, error) {
	tr.once.Do(tr.make)
	if tr.err != nil {
		var zero T
		return zero, fmt.Errorf("building the tree: %w", tr.err)
	}
	if names, err := afero.ReadDir(fs, dir); err == nil && len(names) > 0 {
		var zero T
		return zero, fmt.Errorf("copying the tree to %s: it is not empty", dir)
	} else if fi, err := fs.Stat(dir); err == nil && !fi.IsDir() {
		var zero T
		return zero, fmt.Errorf("copying the tree to %s: it is a file", dir)
	}
	if err := copyTree(tr.fs, builtDir, fs, dir); err != nil {
		var zero T
		return zero, fmt.Errorf("copying the tree to %s: %w", dir, err)
	}
	return tr.val, nil
}

// copyTree copies the tree at src on sfs to dst on dfs, keeping the
// permissions of files and directories. Links and special files are
// errors: no fixture has them.
func copyTree(sfs afero.Fs, src string, dfs afero.Fs, dst string) error {
	var dirs []string
	var modes []os.FileMode
	err := afero.Walk(sfs, src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			// Writable until every file is in; its own mode at the end.
			dirs, modes = append(dirs, target), append(modes, info.Mode().Perm())
			return dfs.MkdirAll(target, 0o700)
		case !info.Mode().IsRegular():
			return fmt.Errorf("%s: not a regular file or directory (%s)", p, info.Mode().Type())
		}
		data, err := afero.ReadFile(sfs, p)
		if err != nil {
			return err
		}
		if err := afero.WriteFile(dfs, target, data, info.Mode().Perm()); err != nil {
			return err
		}
		return dfs.Chmod(target, info.Mode().Perm())
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := dfs.Chmod(dirs[i], modes[i]); err != nil {
			return err
		}
	}
	return nil
}
