package fsfetch

import (
	"bytes"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
)

const prefix = "file:///mirror/"

func newFetcher(t *testing.T) *Fetcher {
	t.Helper()
	fs := afero.NewMemMapFs()
	for name, data := range map[string]string{
		"/mirror/repo/metadata/1.root.json":  `{"root":1}`,
		"/mirror/repo/metadata/empty.json":   ``,
		"/mirror/repo/targets/a/b.bin":       "0123456789",
		"/mirror/secret.txt":                 "outside the repository",
		"/mirror/repo/metadata/dir/x.json":   "x",
		"/mirror/repo/metadata/back\\sl.txt": "backslash",
	} {
		if err := afero.WriteFile(fs, name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &Fetcher{FS: fs, Dir: "/mirror/repo", Prefix: prefix}
}

var _ fetcher.Fetcher = (*Fetcher)(nil)

func TestDownloadFile(t *testing.T) {
	t.Parallel()
	f := newFetcher(t)
	for _, c := range []struct {
		path string
		max  int64
		want string
	}{
		{"metadata/1.root.json", 512000, `{"root":1}`},
		{"metadata/1.root.json", 10, `{"root":1}`}, // exactly the limit
		{"metadata/empty.json", 0, ``},
		{"targets/a/b.bin", 100, "0123456789"},
	} {
		got, err := f.DownloadFile(prefix+c.path, c.max, 0)
		if err != nil || !bytes.Equal(got, []byte(c.want)) {
			t.Errorf("%s (max %d): %q, %v", c.path, c.max, got, err)
		}
	}
}

func TestDownloadFileMissingIs404(t *testing.T) {
	t.Parallel()
	f := newFetcher(t)
	for _, p := range []string{"metadata/2.root.json", "targets/a/missing", "nothing/here"} {
		_, err := f.DownloadFile(prefix+p, 100, 0)
		var httpErr *metadata.ErrDownloadHTTP
		if !errors.As(err, &httpErr) || httpErr.StatusCode != http.StatusNotFound {
			t.Errorf("%s: err = %v, want an HTTP 404", p, err)
		}
	}
}

func TestDownloadFileLengthLimit(t *testing.T) {
	t.Parallel()
	f := newFetcher(t)
	for _, max := range []int64{0, 1, 9} {
		data, err := f.DownloadFile(prefix+"targets/a/b.bin", max, 0)
		var lenErr *metadata.ErrDownloadLengthMismatch
		if !errors.As(err, &lenErr) {
			t.Errorf("max %d: err = %v, want a length mismatch", max, err)
		}
		if data != nil {
			t.Errorf("max %d: returned %d bytes with the error", max, len(data))
		}
	}
}

// countingFs counts bytes read, to check the limit bounds the read.
type countingFs struct {
	afero.Fs
	read *int64
}

func (c countingFs) Open(name string) (afero.File, error) {
	f, err := c.Fs.Open(name)
	if err != nil {
		return nil, err
	}
	return countingFile{f, c.read}, nil
}

type countingFile struct {
	afero.File
	read *int64
}

func (c countingFile) Read(p []byte) (int, error) {
	n, err := c.File.Read(p)
	*c.read += int64(n)
	return n, err
}

func TestDownloadFileReadsAtMostLimitPlusOne(t *testing.T) {
	t.Parallel()
	mem := afero.NewMemMapFs()
	afero.WriteFile(mem, "/r/metadata/big.json", make([]byte, 1<<20), 0o644)
	var read int64
	f := &Fetcher{FS: countingFs{mem, &read}, Dir: "/r", Prefix: prefix}
	if _, err := f.DownloadFile(prefix+"metadata/big.json", 1000, 0); err == nil {
		t.Fatal("no error for a file over the limit")
	}
	if read > 1001 {
		t.Errorf("read %d bytes of a 1 MiB file with limit 1000", read)
	}
}

func TestDownloadFileRefusesEscapes(t *testing.T) {
	t.Parallel()
	f := newFetcher(t)
	for _, p := range []string{
		prefix + "../secret.txt",
		prefix + "metadata/../../secret.txt",
		prefix + "metadata/../metadata/1.root.json",
		prefix + "./metadata/1.root.json",
		prefix + "metadata//1.root.json",
		prefix + "/metadata/1.root.json",
		prefix + "metadata/",
		prefix + `metadata/back\sl.txt`,
		prefix + `..\secret.txt`,
		"file:///other/metadata/1.root.json",
		"https://example.invalid/metadata/1.root.json",
		"file:///mirror/..",
	} {
		data, err := f.DownloadFile(p, 1<<20, 0)
		if err == nil {
			t.Errorf("%s: served %q", p, data)
			continue
		}
		var dlErr *metadata.ErrDownload
		if !errors.As(err, &dlErr) {
			t.Errorf("%s: err %T %v, want ErrDownload", p, err, err)
		}
	}
}

func TestDownloadFileOS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fs := afero.NewOsFs()
	fs.MkdirAll(filepath.Join(dir, "metadata", "sub"), 0o755)
	afero.WriteFile(fs, filepath.Join(dir, "metadata", "1.root.json"), []byte("{}"), 0o644)
	afero.WriteFile(fs, filepath.Join(filepath.Dir(dir), "outside.json"), []byte("{}"), 0o644)
	f := &Fetcher{FS: fs, Dir: dir, Prefix: prefix}
	if data, err := f.DownloadFile(prefix+"metadata/1.root.json", 100, 0); err != nil || string(data) != "{}" {
		t.Errorf("read: %q, %v", data, err)
	}
	// A directory is not a file.
	if data, err := f.DownloadFile(prefix+"metadata/sub", 1<<20, 0); err == nil {
		t.Errorf("directory served as %q", data)
	}
	if data, err := f.DownloadFile(prefix+"../outside.json", 1<<20, 0); err == nil {
		t.Errorf("file outside Dir served as %q", data)
	}
	var httpErr *metadata.ErrDownloadHTTP
	if _, err := f.DownloadFile(prefix+"metadata/2.root.json", 100, 0); !errors.As(err, &httpErr) || httpErr.StatusCode != 404 {
		t.Errorf("missing file: %v, want 404", err)
	}
}
