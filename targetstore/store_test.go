package targetstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// storedFiles lists every file under the store's targets/ directory,
// slash-separated and relative to it.
func storedFiles(t *testing.T, s Store) []string {
	t.Helper()
	root := filepath.Join(s.Dir, "targets")
	var out []string
	err := afero.Walk(s.Fs, root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readAll(t *testing.T, s Store, tf *metadata.TargetFiles) []byte {
	t.Helper()
	f, err := s.Open(tf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPutStoresUnderConsistentName: Put stores the bytes once, under
// <sha256>.<name> in the target's directory, returns their length and
// hash, and Open reads them back.
func TestPutStoresUnderConsistentName(t *testing.T) {
	s := Store{Fs: afero.NewMemMapFs(), Dir: "/repo"}
	data := []byte("model weights")
	var last int64
	tf, err := s.Put("models/det/1.0.0/model.bin", bytes.NewReader(data), func(done int64) { last = done }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tf.Path != "models/det/1.0.0/model.bin" || tf.Length != int64(len(data)) || hex.EncodeToString(tf.Hashes["sha256"]) != hexSHA(data) {
		t.Errorf("target %+v", tf)
	}
	if last != int64(len(data)) {
		t.Errorf("progress ended at %d, want %d", last, len(data))
	}
	if want := []string{"models/det/1.0.0/" + hexSHA(data) + ".model.bin"}; !reflect.DeepEqual(storedFiles(t, s), want) {
		t.Errorf("stored %v, want %v", storedFiles(t, s), want)
	}
	if got := readAll(t, s, tf); !bytes.Equal(got, data) {
		t.Errorf("read back %q", got)
	}
}

// TestPutChecksTheManifestEntry: a copy whose size or SHA-256 contradicts
// the bundle manifest never gets a name, and leaves no temporary file.
func TestPutChecksTheManifestEntry(t *testing.T) {
	data := []byte("model weights")
	size, wrong := int64(len(data)), int64(3)
	for _, c := range []struct {
		name    string
		want    targets.FileEntry
		wantMsg string
	}{
		{"size", targets.FileEntry{Path: "model.bin", Size: &wrong}, "model.bin is 13 bytes, the manifest says 3"},
		{"sha256", targets.FileEntry{Path: "model.bin", Size: &size, SHA256: hexSHA([]byte("other"))}, "model.bin has SHA-256 " + hexSHA(data) + ", the manifest says " + hexSHA([]byte("other"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Store{Fs: afero.NewMemMapFs(), Dir: "/repo"}
			_, err := s.Put("models/det/1.0.0/model.bin", bytes.NewReader(data), nil, &c.want)
			if !errors.Is(err, ErrBundle) || !strings.Contains(err.Error(), c.wantMsg) {
				t.Fatalf("err = %v, want ErrBundle: %s", err, c.wantMsg)
			}
			if got := storedFiles(t, s); len(got) != 0 {
				t.Errorf("left %v", got)
			}
		})
	}
	s := Store{Fs: afero.NewMemMapFs(), Dir: "/repo"}
	if _, err := s.Put("models/det/1.0.0/model.bin", bytes.NewReader(data), nil, &targets.FileEntry{Path: "model.bin", Size: &size, SHA256: hexSHA(data)}); err != nil {
		t.Fatalf("matching entry: %v", err)
	}
}

// TestPutBundleFile: a bundle's payload file becomes the target of its
// model version, with progress reported by file name and size.
func TestPutBundleFile(t *testing.T) {
	fs := afero.NewMemMapFs()
	writeDir(t, fs, "/b", map[string]string{"manifest.json": `{"model_id":"det","version":"2.0.0"}`, "w.bin": "weights"})
	b, err := ReadBundle(fs, "/b")
	if err != nil {
		t.Fatal(err)
	}
	s := Store{Fs: fs, Dir: "/repo"}
	var calls []string
	tf, _, err := s.PutBundleFile(b, "w.bin", func(file string, done, total int64) {
		if file != "w.bin" || total != 7 {
			t.Errorf("progress(%q, %d, %d)", file, done, total)
		}
		calls = append(calls, file)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tf.Path != "models/det/2.0.0/w.bin" || tf.Length != 7 || len(calls) == 0 {
		t.Errorf("target %+v, %d progress calls", tf, len(calls))
	}
	if _, _, err := s.PutBundleFile(b, "gone.bin", nil, nil); !errors.Is(err, ErrBundle) || !strings.Contains(err.Error(), "gone.bin") {
		t.Errorf("missing file: err = %v, want ErrBundle", err)
	}
}

// TestPutBundleFileRefusesSwappedSymlink: a payload file replaced by a
// symlink after ReadBundle checked it is not followed.
func TestPutBundleFileRefusesSwappedSymlink(t *testing.T) {
	if noFollow == 0 {
		t.Skip("no O_NOFOLLOW on this system")
	}
	dir := t.TempDir()
	fs := afero.NewOsFs()
	bdir := filepath.Join(dir, "b")
	writeDir(t, fs, bdir, map[string]string{"manifest.json": `{"model_id":"det","version":"2.0.0"}`, "w.bin": "weights"})
	writeDir(t, fs, dir, map[string]string{"secret": "s"})
	b, err := ReadBundle(fs, bdir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(bdir, "w.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "secret"), filepath.Join(bdir, "w.bin")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	s := Store{Fs: fs, Dir: filepath.Join(dir, "repo")}
	if _, _, err := s.PutBundleFile(b, "w.bin", nil, nil); !errors.Is(err, ErrBundle) {
		t.Fatalf("err = %v, want ErrBundle", err)
	}
	if got := storedFiles(t, s); len(got) != 0 {
		t.Errorf("stored %v", got)
	}
}

func TestOpenMissingTarget(t *testing.T) {
	s := Store{Fs: afero.NewMemMapFs(), Dir: "/repo"}
	tf := &metadata.TargetFiles{Path: "models/det/1.0.0/model.bin", Length: 1, Hashes: metadata.Hashes{"sha256": make([]byte, 32)}}
	if _, err := s.Open(tf); !os.IsNotExist(errors.Unwrap(err)) || !strings.Contains(err.Error(), "stored target models/det/1.0.0/model.bin") {
		t.Fatalf("err = %v, want a not-exist error naming the target", err)
	}
}

// TestUndoNewDirs: undo removes the directories that did not exist when
// it was taken, with what was stored in them since, and nothing else.
func TestUndoNewDirs(t *testing.T) {
	s := Store{Fs: afero.NewMemMapFs(), Dir: "/repo"}
	if _, err := s.Put("models/det/1.0.0/a.bin", strings.NewReader("a"), nil, nil); err != nil {
		t.Fatal(err)
	}
	before := storedFiles(t, s)

	s.UndoNewDirs("models/det/1.0.0")() // exists: nothing to undo
	if got := storedFiles(t, s); !reflect.DeepEqual(got, before) {
		t.Fatalf("undo of an existing directory changed %v to %v", before, got)
	}

	undo := s.UndoNewDirs("models/det/2.0.0")
	if _, err := s.Put("models/det/2.0.0/b.bin", strings.NewReader("b"), nil, nil); err != nil {
		t.Fatal(err)
	}
	undo()
	if got := storedFiles(t, s); !reflect.DeepEqual(got, before) {
		t.Errorf("after undo: %v, want %v", got, before)
	}
	if _, err := s.Fs.Stat("/repo/targets/models/det/2.0.0"); !os.IsNotExist(err) {
		t.Errorf("2.0.0 directory: %v", err)
	}

	undo = s.UndoNewDirs("models/cls/1.0.0")
	if _, err := s.Put("models/cls/1.0.0/c.bin", strings.NewReader("c"), nil, nil); err != nil {
		t.Fatal(err)
	}
	undo()
	if _, err := s.Fs.Stat("/repo/targets/models/cls"); !os.IsNotExist(err) {
		t.Errorf("a new model's directory survived undo: %v", err)
	}
	if _, err := s.Fs.Stat("/repo/targets/models"); err != nil {
		t.Errorf("undo removed an existing directory: %v", err)
	}
}
