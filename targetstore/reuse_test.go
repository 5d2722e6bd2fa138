package targetstore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// publish stores data as file of model@version with payload custom
// metadata, as add-target does, and returns the targets published so far.
func publish(t *testing.T, s Store, ts map[string]*metadata.TargetFiles, model, version, file, data string) {
	t.Helper()
	tf, err := s.Put(targets.TargetPath(model, version, file), strings.NewReader(data), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tf.Custom, err = targets.PayloadCustom(&targets.Manifest{ModelID: model, Version: version}, file).Marshal(); err != nil {
		t.Fatal(err)
	}
	ts[tf.Path] = tf
}

func storedPath(s Store, tf *metadata.TargetFiles) string {
	return s.path(tf.Path, tf.Hashes["sha256"])
}

// TestPutBundleFileReusesPublished: a payload file with the bytes of one
// published for the model (another version, another name) becomes a hard
// link to the stored file, whether or not the bundle manifest declares
// its hash; a file with new bytes, or the bytes of another model's file,
// is stored as usual.
func TestPutBundleFileReusesPublished(t *testing.T) {
	for _, declared := range []bool{true, false} {
		t.Run(fmt.Sprintf("declared=%v", declared), func(t *testing.T) {
			dir := t.TempDir()
			fs := afero.NewOsFs()
			s := Store{Fs: fs, Dir: filepath.Join(dir, "repo")}
			ts := map[string]*metadata.TargetFiles{}
			publish(t, s, ts, "det", "1.0.0", "labels.txt", "cat\ndog\n")
			publish(t, s, ts, "other", "1.0.0", "w.bin", "weights of another model")
			manifest := `{"model_id":"det","version":"1.1.0"}`
			if declared {
				manifest = fmt.Sprintf(`{"model_id":"det","version":"1.1.0","files":[{"path":"classes.txt","sha256":"%s","size":8},{"path":"w.bin"}]}`, hexSHA([]byte("cat\ndog\n")))
			}
			bdir := filepath.Join(dir, "b")
			writeDir(t, fs, bdir, map[string]string{"manifest.json": manifest, "classes.txt": "cat\ndog\n", "w.bin": "weights of another model"})
			b, err := ReadBundle(fs, bdir)
			if err != nil {
				t.Fatal(err)
			}
			pub := PublishedFiles(ts, "det")
			tf, r, err := s.PutBundleFile(b, "classes.txt", nil, pub)
			if err != nil {
				t.Fatal(err)
			}
			if r == nil || r.FromVersion != "1.0.0" || r.FromPath != "models/det/1.0.0/labels.txt" || r.LinkedBytes != 8 || r.Length != 8 || r.File != "classes.txt" {
				t.Fatalf("reused = %+v", r)
			}
			if tf.Path != "models/det/1.1.0/classes.txt" || tf.Length != 8 || hexSHA([]byte("cat\ndog\n")) != hex.EncodeToString(tf.Hashes["sha256"]) {
				t.Errorf("target %+v", tf)
			}
			a, err1 := os.Stat(storedPath(s, ts["models/det/1.0.0/labels.txt"]))
			c, err2 := os.Stat(storedPath(s, tf))
			if err1 != nil || err2 != nil || !os.SameFile(a, c) {
				t.Errorf("not one file: %v %v", err1, err2)
			}
			// Another model's bytes are not this model's: stored as usual.
			tf2, r2, err := s.PutBundleFile(b, "w.bin", nil, pub)
			if err != nil || r2 != nil {
				t.Fatalf("w.bin: reused %+v, err %v", r2, err)
			}
			o, _ := os.Stat(storedPath(s, ts["models/other/1.0.0/w.bin"]))
			n, _ := os.Stat(storedPath(s, tf2))
			if os.SameFile(o, n) {
				t.Error("w.bin linked to another model's file")
			}
			for _, f := range storedFiles(t, s) {
				if atomicfs.IsTemp(f) {
					t.Errorf("temporary file left: %s", f)
				}
			}
		})
	}
}

// TestPutBundleFileReuseRefusesLies: a bundle manifest that declares the
// hash of a published file for different bytes is refused, and nothing
// is stored; a published file missing from the store (or of the wrong
// size) is not linked: the new file is stored as a copy.
func TestPutBundleFileReuseRefusesLies(t *testing.T) {
	dir := t.TempDir()
	fs := afero.NewOsFs()
	s := Store{Fs: fs, Dir: filepath.Join(dir, "repo")}
	ts := map[string]*metadata.TargetFiles{}
	publish(t, s, ts, "det", "1.0.0", "labels.txt", "cat\ndog\n")
	before := storedFiles(t, s)
	for name, data := range map[string]string{"other": "cow\npig\n", "longer": "cat\ndog\nfox\n"} {
		bdir := filepath.Join(dir, name)
		writeDir(t, fs, bdir, map[string]string{
			"manifest.json": fmt.Sprintf(`{"model_id":"det","version":"1.1.0","files":[{"path":"labels.txt","sha256":"%s","size":8}]}`, hexSHA([]byte("cat\ndog\n"))),
			"labels.txt":    data})
		b, err := ReadBundle(fs, bdir)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.PutBundleFile(b, "labels.txt", nil, PublishedFiles(ts, "det")); !errors.Is(err, ErrBundle) {
			t.Errorf("%s: err = %v, want ErrBundle", name, err)
		}
	}
	if got := storedFiles(t, s); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("stored %v, want %v", got, before)
	}

	// The stored file of 1.0.0 was truncated by hand: not reused.
	if err := os.Truncate(storedPath(s, ts["models/det/1.0.0/labels.txt"]), 3); err != nil {
		t.Fatal(err)
	}
	bdir := filepath.Join(dir, "same")
	writeDir(t, fs, bdir, map[string]string{"manifest.json": `{"model_id":"det","version":"1.1.0"}`, "labels.txt": "cat\ndog\n"})
	b, err := ReadBundle(fs, bdir)
	if err != nil {
		t.Fatal(err)
	}
	tf, r, err := s.PutBundleFile(b, "labels.txt", nil, PublishedFiles(ts, "det"))
	if err != nil || r != nil {
		t.Fatalf("reused %+v, err %v", r, err)
	}
	if got := readAll(t, s, tf); string(got) != "cat\ndog\n" {
		t.Errorf("stored %q", got)
	}
}

// TestPutBundleFileReuseWithoutLinks: on a filesystem without hard links
// the file is stored as a copy, and the result says so.
func TestPutBundleFileReuseWithoutLinks(t *testing.T) {
	for _, declared := range []bool{true, false} {
		fs := afero.NewMemMapFs()
		s := Store{Fs: fs, Dir: "/repo"}
		ts := map[string]*metadata.TargetFiles{}
		publish(t, s, ts, "det", "1.0.0", "labels.txt", "cat\ndog\n")
		manifest := `{"model_id":"det","version":"1.1.0"}`
		if declared {
			manifest = fmt.Sprintf(`{"model_id":"det","version":"1.1.0","files":[{"path":"labels.txt","sha256":"%s","size":8}]}`, hexSHA([]byte("cat\ndog\n")))
		}
		writeDir(t, fs, "/b", map[string]string{"manifest.json": manifest, "labels.txt": "cat\ndog\n"})
		b, err := ReadBundle(fs, "/b")
		if err != nil {
			t.Fatal(err)
		}
		tf, r, err := s.PutBundleFile(b, "labels.txt", nil, PublishedFiles(ts, "det"))
		if err != nil {
			t.Fatal(err)
		}
		if r == nil || r.LinkedBytes != 0 || !strings.Contains(r.Note, "not possible") {
			t.Errorf("declared=%v: reused = %+v", declared, r)
		}
		if got := readAll(t, s, tf); string(got) != "cat\ndog\n" {
			t.Errorf("declared=%v: stored %q", declared, got)
		}
	}
}

// TestPublishedFiles: only the model's payload targets count, and of
// equal bytes the newest version's.
func TestPublishedFiles(t *testing.T) {
	s := Store{Fs: afero.NewMemMapFs(), Dir: "/repo"}
	ts := map[string]*metadata.TargetFiles{}
	publish(t, s, ts, "det", "1.0.0", "a.txt", "same")
	publish(t, s, ts, "det", "1.2.0", "b.txt", "same")
	publish(t, s, ts, "det", "1.10.0", "c.txt", "same")
	publish(t, s, ts, "cls", "9.0.0", "a.txt", "other")
	ts["models/det/1.0.0/manifest.json"] = &metadata.TargetFiles{Length: 4, Hashes: metadata.Hashes{"sha256": ts["models/cls/9.0.0/a.txt"].Hashes["sha256"]}}
	pub := PublishedFiles(ts, "det")
	if len(pub) != 1 {
		t.Fatalf("%d entries, want 1: %v", len(pub), pub)
	}
	for _, pf := range pub {
		if pf.Version != "1.10.0" || pf.Target.Path != "models/det/1.10.0/c.txt" {
			t.Errorf("got %s %s", pf.Version, pf.Target.Path)
		}
	}
}

// TestPutBundleFileReuseRehashesStored: a stored file damaged by hand
// without changing its size (one byte flipped) is not reused, whether the
// bundle manifest declares the hash or not: the new version's file is
// stored as a copy of the bundle's bytes, so it is published intact.
func TestPutBundleFileReuseRehashesStored(t *testing.T) {
	for _, declared := range []bool{true, false} {
		t.Run(fmt.Sprintf("declared=%v", declared), func(t *testing.T) {
			dir := t.TempDir()
			fs := afero.NewOsFs()
			s := Store{Fs: fs, Dir: filepath.Join(dir, "repo")}
			ts := map[string]*metadata.TargetFiles{}
			publish(t, s, ts, "det", "1.0.0", "labels.txt", "cat\ndog\n")
			if err := os.WriteFile(storedPath(s, ts["models/det/1.0.0/labels.txt"]), []byte("cat\ndoG\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			manifest := `{"model_id":"det","version":"1.1.0"}`
			if declared {
				manifest = fmt.Sprintf(`{"model_id":"det","version":"1.1.0","files":[{"path":"labels.txt","sha256":"%s","size":8}]}`, hexSHA([]byte("cat\ndog\n")))
			}
			bdir := filepath.Join(dir, "b")
			writeDir(t, fs, bdir, map[string]string{"manifest.json": manifest, "labels.txt": "cat\ndog\n"})
			b, err := ReadBundle(fs, bdir)
			if err != nil {
				t.Fatal(err)
			}
			tf, r, err := s.PutBundleFile(b, "labels.txt", nil, PublishedFiles(ts, "det"))
			if err != nil || r != nil {
				t.Fatalf("reused %+v, err %v", r, err)
			}
			if got := readAll(t, s, tf); string(got) != "cat\ndog\n" {
				t.Errorf("stored %q", got)
			}
		})
	}
}
