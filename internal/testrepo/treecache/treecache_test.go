package treecache

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spf13/afero"
)

func buildSample(fs afero.Fs, dir string) error {
	if err := fs.MkdirAll(filepath.Join(dir, "sub"), 0o750); err != nil {
		return err
	}
	if err := afero.WriteFile(fs, filepath.Join(dir, "a.json"), []byte("a"), 0o644); err != nil {
		return err
	}
	if err := afero.WriteFile(fs, filepath.Join(dir, "sub", "secret"), []byte("s"), 0o600); err != nil {
		return err
	}
	// Explicit modes: the build's umask must not decide what is checked.
	if err := fs.Chmod(filepath.Join(dir, "sub"), 0o750); err != nil {
		return err
	}
	return fs.Chmod(filepath.Join(dir, "sub", "secret"), 0o600)
}

// TestBuiltOnceCopiedPerTest: concurrent users share one build and each
// gets a private copy with the build's permissions, on disk or in memory.
func TestBuiltOnceCopiedPerTest(t *testing.T) {
	t.Parallel()
	for _, onDisk := range []bool{false, true} {
		var builds atomic.Int32
		var builtIn string
		build := func(fs afero.Fs, dir string) (string, error) {
			builds.Add(1)
			builtIn = dir
			return "value", buildSample(fs, dir)
		}
		tr := New(build)
		if onDisk {
			tr = NewOnDisk(build)
		}
		var wg sync.WaitGroup
		dirs := make([]string, 8)
		for i := range dirs {
			dirs[i] = filepath.Join(t.TempDir(), "copy")
			wg.Add(1)
			go func() {
				defer wg.Done()
				if v, err := tr.Copy(afero.NewOsFs(), dirs[i]); err != nil || v != "value" {
					t.Errorf("copy: %q, %v", v, err)
				}
			}()
		}
		wg.Wait()
		if n := builds.Load(); n != 1 {
			t.Fatalf("onDisk=%v: built %d times", onDisk, n)
		}
		if onDisk {
			if _, err := os.Stat(builtIn); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the on-disk build directory %s is left behind (%v)", builtIn, err)
			}
		}
		// A change to one copy is not in the next.
		if err := os.WriteFile(filepath.Join(dirs[0], "a.json"), []byte("changed"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs[1:] {
			if data, err := os.ReadFile(filepath.Join(d, "a.json")); err != nil || string(data) != "a" {
				t.Fatalf("copy %s: %q %v", d, data, err)
			}
		}
		for name, want := range map[string]os.FileMode{"a.json": 0o644, "sub": 0o750, "sub/secret": 0o600} {
			fi, err := os.Stat(filepath.Join(dirs[1], name))
			if err != nil || fi.Mode().Perm() != want {
				t.Errorf("onDisk=%v: %s: %v, mode %v, want %v", onDisk, name, err, fi.Mode().Perm(), want)
			}
		}
		if err := os.Remove(filepath.Join(dirs[1], "sub", "secret")); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Copy(afero.NewOsFs(), dirs[1]); err == nil {
			t.Error("copied over a directory that is not empty")
		}
	}
}

// TestBuildErrorReachesEveryUser: a failed build is reported to every
// caller, and not retried.
func TestBuildErrorReachesEveryUser(t *testing.T) {
	t.Parallel()
	var builds atomic.Int32
	tr := New(func(fs afero.Fs, dir string) (int, error) {
		builds.Add(1)
		return 0, errors.New("ceremony failed")
	})
	for range 2 {
		if _, err := tr.Copy(afero.NewMemMapFs(), "/x"); err == nil {
			t.Fatal("no error")
		}
	}
	if builds.Load() != 1 {
		t.Fatalf("built %d times", builds.Load())
	}
}

// TestTreeFromTree: a build may start from another tree's copy.
func TestTreeFromTree(t *testing.T) {
	t.Parallel()
	base := New(func(fs afero.Fs, dir string) (struct{}, error) { return struct{}{}, buildSample(fs, dir) })
	more := New(func(fs afero.Fs, dir string) (struct{}, error) {
		if _, err := base.Copy(fs, dir); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, afero.WriteFile(fs, filepath.Join(dir, "b.json"), []byte("b"), 0o644)
	})
	for _, dir := range []string{"/t1/repo", "/"} { // "/" exists, empty
		fs := afero.NewMemMapFs()
		more.CopyTo(t, fs, dir)
		for _, name := range []string{"a.json", "b.json", "sub/secret"} {
			if ok, _ := afero.Exists(fs, filepath.Join(dir, name)); !ok {
				t.Errorf("%s: %s missing", dir, name)
			}
		}
	}
}
