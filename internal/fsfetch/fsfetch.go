// Package fsfetch is a go-tuf fetcher that reads a TUF repository from a
// filesystem instead of HTTP: a repository directory being verified, or a
// mirror on removable media reached through a file:// URL.
package fsfetch

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Fetcher serves URLs that start with Prefix from files under Dir on FS:
// Prefix+"metadata/1.root.json" reads Dir/metadata/1.root.json.
type Fetcher struct {
	FS     afero.Fs
	Dir    string
	Prefix string
}

// DownloadFile implements go-tuf's fetcher.Fetcher. A missing file is an
// HTTP 404 to go-tuf (which is how it learns that no newer root exists);
// a file longer than maxLength is a length error, detected without
// reading more than maxLength+1 bytes.
func (f *Fetcher) DownloadFile(urlPath string, maxLength int64, _ time.Duration) ([]byte, error) {
	rel, ok := strings.CutPrefix(urlPath, f.Prefix)
	if !ok {
		return nil, &metadata.ErrDownload{Msg: fmt.Sprintf("%s is outside %s", urlPath, f.Prefix)}
	}
	clean := path.Clean("/" + rel)
	if clean != "/"+rel || strings.Contains(rel, "\\") {
		return nil, &metadata.ErrDownload{Msg: fmt.Sprintf("refusing non-canonical path %q", rel)}
	}
	file, err := f.FS.Open(filepath.Join(f.Dir, filepath.FromSlash(clean)))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: urlPath}
		}
		return nil, &metadata.ErrDownload{Msg: err.Error()}
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxLength+1))
	if err != nil {
		return nil, &metadata.ErrDownload{Msg: err.Error()}
	}
	if int64(len(data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is longer than %d bytes", urlPath, maxLength)}
	}
	return data, nil
}
