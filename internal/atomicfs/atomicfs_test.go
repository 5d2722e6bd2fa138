package atomicfs

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

// filesystems runs each test on an in-memory and on the OS filesystem.
func filesystems(t *testing.T) map[string]func(t *testing.T) (afero.Fs, string) {
	return map[string]func(t *testing.T) (afero.Fs, string){
		"mem": func(t *testing.T) (afero.Fs, string) { return afero.NewMemMapFs(), "/r" },
		"os":  func(t *testing.T) (afero.Fs, string) { return afero.NewOsFs(), t.TempDir() },
	}
}

// listFiles returns every regular file under dir, relative, sorted.
func listFiles(t *testing.T, fs afero.Fs, dir string) []string {
	t.Helper()
	var out []string
	err := afero.Walk(fs, dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestCommit(t *testing.T) {
	t.Parallel()
	for name, mk := range filesystems(t) {
		t.Run(name, func(t *testing.T) {
			fs, dir := mk(t)
			sub := filepath.Join(dir, "a", "b")
			f, err := Create(fs, sub, 0o640)
			if err != nil {
				t.Fatal(err)
			}
			if !IsTemp(f.Name()) || filepath.Dir(f.Name()) != sub {
				t.Errorf("temporary file %s is not a temp name in %s", f.Name(), sub)
			}
			if _, err := f.Write([]byte("hello ")); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("world")); err != nil {
				t.Fatal(err)
			}
			final := filepath.Join(sub, "out.txt")
			if _, err := fs.Stat(final); !os.IsNotExist(err) {
				t.Fatalf("final name visible before Commit: %v", err)
			}
			if err := f.Commit(final); err != nil {
				t.Fatal(err)
			}
			data, err := afero.ReadFile(fs, final)
			if err != nil || string(data) != "hello world" {
				t.Fatalf("final content %q, %v", data, err)
			}
			if fi, _ := fs.Stat(final); fi.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want 0640", fi.Mode().Perm())
			}
			if got := listFiles(t, fs, dir); len(got) != 1 || got[0] != "a/b/out.txt" {
				t.Errorf("files after Commit: %q", got)
			}
			// Abort after Commit is a no-op; a second Commit is an error.
			f.Abort()
			if _, err := fs.Stat(final); err != nil {
				t.Errorf("Abort after Commit removed the file: %v", err)
			}
			if err := f.Commit(final); err == nil {
				t.Error("second Commit succeeded")
			}
		})
	}
}

func TestCommitOtherDirectory(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	f, err := Create(fs, "/r/a", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if err := f.Commit("/r/b/out"); err == nil || !strings.Contains(err.Error(), "not in the directory") {
		t.Fatalf("Commit into another directory: %v", err)
	}
	if _, err := fs.Stat("/r/b/out"); !os.IsNotExist(err) {
		t.Error("file appeared in the other directory")
	}
}

func TestAbort(t *testing.T) {
	t.Parallel()
	for name, mk := range filesystems(t) {
		t.Run(name, func(t *testing.T) {
			fs, dir := mk(t)
			f, err := Create(fs, dir, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("partial"))
			f.Abort()
			f.Abort() // idempotent
			if got := listFiles(t, fs, dir); len(got) != 0 {
				t.Errorf("files after Abort: %q", got)
			}
			if err := f.Commit(filepath.Join(dir, "x")); err == nil {
				t.Error("Commit after Abort succeeded")
			}
			if _, err := fs.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
				t.Error("Commit after Abort created the file")
			}
		})
	}
}

func TestWriteFileReplaces(t *testing.T) {
	t.Parallel()
	for name, mk := range filesystems(t) {
		t.Run(name, func(t *testing.T) {
			fs, dir := mk(t)
			p := filepath.Join(dir, "timestamp.json")
			for _, content := range []string{"version 1", "v2"} {
				if err := WriteFile(fs, p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				if data, _ := afero.ReadFile(fs, p); string(data) != content {
					t.Errorf("content %q, want %q", data, content)
				}
			}
			if got := listFiles(t, fs, dir); len(got) != 1 {
				t.Errorf("files: %q, want only timestamp.json", got)
			}
		})
	}
}

func TestIsTemp(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		".tmp-123":             true,
		"/a/b/.tmp-x.key":      true,
		"a/.tmp-":              true,
		`a\.tmp-1`:             false, // a backslash is a name character on unix
		"tmp-1":                false,
		".tmp":                 false,
		"/a/.tmp-dir/file":     false,
		"x.tmp-1":              false,
		"1.root.json":          false,
		"/targets/.tmp-1/name": false,
	} {
		if filepath.Separator == '\\' && strings.Contains(name, `\`) {
			continue
		}
		if got := IsTemp(name); got != want {
			t.Errorf("IsTemp(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRemoveStale(t *testing.T) {
	t.Parallel()
	for name, mk := range filesystems(t) {
		t.Run(name, func(t *testing.T) {
			fs, dir := mk(t)
			keep := []string{"metadata/1.root.json", "metadata/timestamp.json", "targets/models/m/1.0.0/abc.w.bin", "tmp-not-stale", "x.tmp-1"}
			stale := []string{".tmp-1", "metadata/.tmp-22", "targets/models/m/1.0.0/.tmp-333"}
			for _, p := range append(append([]string{}, keep...), stale...) {
				full := filepath.Join(dir, filepath.FromSlash(p))
				fs.MkdirAll(filepath.Dir(full), 0o755)
				if err := afero.WriteFile(fs, full, []byte(p), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// An uncommitted File, as a killed process leaves it.
			f, err := Create(fs, filepath.Join(dir, "targets"), 0o644)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("partial"))
			if err := RemoveStale(fs, dir); err != nil {
				t.Fatal(err)
			}
			sort.Strings(keep)
			if got := listFiles(t, fs, dir); strings.Join(got, ",") != strings.Join(keep, ",") {
				t.Errorf("after RemoveStale: %q, want %q", got, keep)
			}
			// A missing directory is not an error.
			if err := RemoveStale(fs, filepath.Join(dir, "nope")); err != nil {
				t.Errorf("missing dir: %v", err)
			}
		})
	}
}

func TestSyncDir(t *testing.T) {
	t.Parallel()
	for name, mk := range filesystems(t) {
		t.Run(name, func(t *testing.T) {
			fs, dir := mk(t)
			fs.MkdirAll(dir, 0o755)
			if err := SyncDir(fs, dir); err != nil {
				t.Errorf("SyncDir: %v", err)
			}
			if err := SyncDir(fs, filepath.Join(dir, "missing")); err == nil {
				t.Error("SyncDir of a missing directory succeeded")
			}
		})
	}
}
