package targetstore

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// writeDir writes files (name -> content; a name ending in / is an empty
// directory) under dir.
func writeDir(t *testing.T, fs afero.Fs, dir string, files map[string]string) {
	t.Helper()
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := fs.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := fs.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := afero.WriteFile(fs, p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadBundleListsFiles: a manifest's files list is the publishing
// order, and what it leaves out is a warning, never published.
func TestReadBundleListsFiles(t *testing.T) {
	fs := afero.NewMemMapFs()
	writeDir(t, fs, "/b", map[string]string{
		"manifest.json": `{"model_id":"det","version":"1.0.0","files":[{"path":"z.bin"},{"path":"a.bin"}]}`,
		"z.bin":         "z", "a.bin": "a", "notes.txt": "n", ".hidden": "h",
	})
	b, err := ReadBundle(fs, "/b")
	if err != nil {
		t.Fatal(err)
	}
	if b.Dir != "/b" || b.Manifest.ModelID != "det" || b.Manifest.Version != "1.0.0" {
		t.Errorf("bundle %+v", b)
	}
	if want := []string{"z.bin", "a.bin"}; !reflect.DeepEqual(b.Files, want) {
		t.Errorf("files %v, want %v", b.Files, want)
	}
	if want := []string{"not listed in the manifest, not published: .hidden, notes.txt"}; !reflect.DeepEqual(b.Warnings, want) {
		t.Errorf("warnings %q, want %q", b.Warnings, want)
	}
}

// TestReadBundleWithoutList: without a files list, every file but hidden
// ones is published, sorted by name.
func TestReadBundleWithoutList(t *testing.T) {
	fs := afero.NewMemMapFs()
	writeDir(t, fs, "/b", map[string]string{
		"manifest.json": `{"model_id":"det","version":"1.0.0"}`,
		"z.bin":         "z", "a.bin": "a", ".DS_Store": "h",
	})
	b, err := ReadBundle(fs, "/b")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.bin", "z.bin"}; !reflect.DeepEqual(b.Files, want) {
		t.Errorf("files %v, want %v", b.Files, want)
	}
	if want := []string{"hidden file .DS_Store skipped"}; !reflect.DeepEqual(b.Warnings, want) {
		t.Errorf("warnings %q, want %q", b.Warnings, want)
	}
}

func TestReadBundleRefusals(t *testing.T) {
	for _, c := range []struct {
		name    string
		files   map[string]string
		dir     string
		wantErr error // ErrBundle unless set
		wantMsg string
	}{
		{name: "missing directory", dir: "/nope"},
		{name: "not a directory", files: map[string]string{"manifest.json": "{}"}, dir: "/b/manifest.json", wantMsg: "is not a directory"},
		{name: "no manifest", files: map[string]string{"w.bin": "w"}, wantMsg: "manifest.json does not exist"},
		{name: "manifest is a directory", files: map[string]string{"manifest.json/": ""}, wantMsg: "manifest.json is a directory"},
		{name: "manifest too deep", files: map[string]string{"manifest.json": strings.Repeat("[", 200) + strings.Repeat("]", 200)}, wantMsg: "manifest.json"},
		{name: "invalid manifest", files: map[string]string{"manifest.json": `{"model_id":"det"}`, "w.bin": "w"}, wantErr: targets.ErrManifest, wantMsg: "version"},
		{name: "no payload", files: map[string]string{"manifest.json": `{"model_id":"det","version":"1.0.0"}`}, wantMsg: "no payload files besides manifest.json"},
		{name: "subdirectory", files: map[string]string{"manifest.json": `{"model_id":"det","version":"1.0.0"}`, "w.bin": "w", "sub/": ""}, wantMsg: "sub is a directory; bundles are flat"},
		{name: "listed file missing", files: map[string]string{"manifest.json": `{"model_id":"det","version":"1.0.0","files":[{"path":"gone.bin"}]}`}, wantMsg: "gone.bin does not exist"},
		{name: "bad file name", files: map[string]string{"manifest.json": `{"model_id":"det","version":"1.0.0"}`, "bad name": "w"}, wantMsg: "bad name"},
		{name: "names differing in case", files: map[string]string{"manifest.json": `{"model_id":"det","version":"1.0.0"}`, "Model.bin": "a", "model.bin": "b"}, wantMsg: "Model.bin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := afero.NewMemMapFs()
			writeDir(t, fs, "/b", c.files)
			dir := c.dir
			if dir == "" {
				dir = "/b"
			}
			_, err := ReadBundle(fs, dir)
			want := c.wantErr
			if want == nil {
				want = ErrBundle
			}
			if !errors.Is(err, want) || !strings.Contains(err.Error(), c.wantMsg) {
				t.Fatalf("err = %v, want %v containing %q", err, want, c.wantMsg)
			}
		})
	}
}

// TestReadBundleRefusesSymlinks: a bundle holds regular files only; a
// symlink could smuggle in any file readable by the publisher.
func TestReadBundleRefusesSymlinks(t *testing.T) {
	for _, listed := range []bool{false, true} {
		dir := t.TempDir()
		fs := afero.NewOsFs()
		manifest := `{"model_id":"det","version":"1.0.0"}`
		if listed {
			manifest = `{"model_id":"det","version":"1.0.0","files":[{"path":"w.bin"}]}`
		}
		writeDir(t, fs, dir, map[string]string{"manifest.json": manifest, "secret": "s"})
		if err := os.Symlink(filepath.Join(dir, "secret"), filepath.Join(dir, "w.bin")); err != nil {
			t.Skip("no symlinks here:", err)
		}
		if _, err := ReadBundle(fs, dir); !errors.Is(err, ErrBundle) || !strings.Contains(err.Error(), "w.bin is a symlink") {
			t.Errorf("listed %v: err = %v, want ErrBundle about the symlink", listed, err)
		}
	}
}
