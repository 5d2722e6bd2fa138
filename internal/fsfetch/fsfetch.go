// Package fsfetch is a go-tuf fetcher that reads a TUF repository from a
// filesystem instead of HTTP: a repository directory being verified, or a
// mirror on removable media reached through a file:// URL.
//
// A mirror is not trusted any more than a server: it may hold a FIFO, a
// device or a file on a medium that stops answering. Only regular files
// are read (a FIFO is refused without blocking in open), every read is
// bounded by the caller's limit, and a read that blocks is abandoned when
// the fetcher's context ends or nothing arrives for StallTimeout.
package fsfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	// Context, if set, abandons a download when it ends (go-tuf's fetcher
	// interface takes no context, so it travels with the fetcher).
	Context context.Context
	// StallTimeout, if positive, fails a download when a read delivers
	// nothing for this long.
	StallTimeout time.Duration
	// Timeout, if positive, bounds each download as a whole.
	Timeout time.Duration
}

// ErrNotRegular is returned for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

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
	file, err := OpenRegular(f.FS, filepath.Join(f.Dir, filepath.FromSlash(clean)))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: urlPath}
		}
		return nil, &metadata.ErrDownload{Msg: err.Error()}
	}
	defer file.Close()
	ctx := f.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if f.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, f.Timeout, fmt.Errorf("%s: not read within %v", urlPath, f.Timeout))
		defer cancel()
	}
	r := NewReader(ctx, file)
	r.StallTimeout = f.StallTimeout
	data, err := io.ReadAll(io.LimitReader(r, maxLength+1))
	if err != nil {
		if ctx.Err() != nil {
			// Keep the cause reachable: the caller tells its own
			// cancellation from a limit.
			return nil, fmt.Errorf("reading %s: %w", urlPath, err)
		}
		return nil, &metadata.ErrDownload{Msg: err.Error()}
	}
	if int64(len(data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is longer than %d bytes", urlPath, maxLength)}
	}
	return data, nil
}

// OpenRegular opens name for reading if it is a regular file (symbolic
// links followed), without blocking on a FIFO: it is checked before it is
// opened, opened non-blocking, and checked again once open (it may have
// been replaced in between). Other types are ErrNotRegular.
func OpenRegular(fsys afero.Fs, name string) (afero.File, error) {
	fi, err := fsys.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (%s)", ErrNotRegular, typeName(fi.Mode()))}
	}
	f, err := fsys.OpenFile(name, os.O_RDONLY|oNonblock, 0)
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (%s)", ErrNotRegular, typeName(fi.Mode()))}
		}
		return nil, err
	}
	return f, nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	}
	return "type " + m.Type().String()
}

// Reader reads from a source whose reads may block for ever (a file on a
// hung medium): each Read runs in its own goroutine and is abandoned when
// the context ends (the error is the context's cause) or, with a positive
// StallTimeout, when it delivers nothing for that long. After such an
// error the source is never read again; the abandoned read finishes, or
// not, in the background, into a buffer of its own.
type Reader struct {
	ctx          context.Context
	src          io.Reader
	StallTimeout time.Duration
	buf          []byte
	err          error
	res          chan readResult
}

type readResult struct {
	n   int
	err error
}

// NewReader returns a Reader of src bounded by ctx.
func NewReader(ctx context.Context, src io.Reader) *Reader {
	return &Reader{ctx: ctx, src: src, res: make(chan readResult, 1)}
}

// ErrStalled is the error of a read that delivered nothing for the
// stall timeout.
var ErrStalled = errors.New("stalled")

func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if err := r.ctx.Err(); err != nil {
		r.err = context.Cause(r.ctx)
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if cap(r.buf) < len(p) {
		r.buf = make([]byte, len(p))
	}
	buf := r.buf[:len(p)]
	go func() {
		n, err := r.src.Read(buf)
		r.res <- readResult{n, err}
	}()
	var stall <-chan time.Time
	if r.StallTimeout > 0 {
		t := time.NewTimer(r.StallTimeout)
		defer t.Stop()
		stall = t.C
	}
	select {
	case res := <-r.res:
		copy(p, buf[:res.n])
		return res.n, res.err
	case <-r.ctx.Done():
		r.err = context.Cause(r.ctx)
	case <-stall:
		r.err = fmt.Errorf("%w: no data for %v", ErrStalled, r.StallTimeout)
	}
	r.buf = nil // the abandoned read still owns it
	return 0, r.err
}
