package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/internal/directio"
	"github.com/edgetuf/edgetuf/internal/hashcopy"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// downloader streams target files into staging: bounded by the signed
// length, hashed while written, resumed with HTTP Range after a failure.
type downloader struct {
	http     *http.Client
	stall    time.Duration // abort a transfer that makes no progress this long
	retries  int           // further attempts after a network failure
	backoff  time.Duration // first pause between attempts, doubled each time
	progress func(name string, done, total int64)
}

// fetchResult reports one file's download.
type fetchResult struct {
	transferred int64 // bytes received from the network in this run
	resumedFrom int64 // bytes already in staging that were re-hashed and kept
	cleaned     bool  // a staged copy was corrupt and discarded
	prefix      int64 // bytes the last attempt kept from staging before appending
}

// fetch makes dest hold exactly the target's bytes, reusing (after
// re-hashing, never trusting) what an earlier run left there.
func (d *downloader) fetch(ctx context.Context, url string, tf *metadata.TargetFiles, dest, name string) (fetchResult, error) {
	var res fetchResult
	delay := d.backoff
	refetched := false
	for attempt := 0; ; attempt++ {
		err := d.attempt(ctx, url, tf, dest, name, attempt == 0, &res)
		if err == nil {
			return res, nil
		}
		if CodeOf(err) == HashMismatch && res.prefix > 0 && !refetched {
			// The bytes kept from staging were damaged on disk (a flipped
			// bit, a torn write): only the final hash shows it. attempt has
			// removed the file; fetch it whole, once.
			refetched, res.cleaned, res.resumedFrom = true, true, 0
			attempt--
			continue
		}
		if CodeOf(err) != Network || attempt >= d.retries || ctx.Err() != nil {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, errorf(Network, ctx.Err(), "downloading %s", name)
		case <-time.After(delay):
		}
		if delay < 30*time.Second {
			delay *= 2
		}
	}
}

func (d *downloader) attempt(ctx context.Context, url string, tf *metadata.TargetFiles, dest, name string, first bool, res *fetchResult) error {
	want := tf.Hashes["sha256"]
	f, err := openStaged(dest) // never through a link, never a FIFO
	if err != nil {
		return errorf(classifyFS(err), err, "staging %s", name)
	}
	defer f.Close()
	size, h, err := rehashPrefix(f, tf.Length)
	if err != nil {
		return errorf(classifyFS(err), err, "reading staged %s", name)
	}
	if size == tf.Length {
		if bytes.Equal(h.Sum(nil), want) {
			if first {
				res.resumedFrom = size
			}
			return nil
		}
		// A staged copy of the right length with the wrong bytes: discard.
		res.cleaned = true
		if size, h, err = restart(f); err != nil {
			return err
		}
	}
	if first {
		res.resumedFrom = size
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body, start, err := d.open(ctx, url, size, tf.Length)
	if err != nil {
		return err
	}
	defer body.Close()
	if start != size { // the server ignored the Range request
		res.resumedFrom = 0
		if size, h, err = restart(f); err != nil {
			return err
		}
	}
	res.prefix = size
	var w io.Writer = &offsetWriter{f: f, off: size}
	dw := directio.Open(dest, f, size)
	if dw != nil {
		defer dw.Close()
		w = dw
	}
	var cb func(int64)
	if d.progress != nil {
		cb = func(n int64) { d.progress(name, size+n, tf.Length) }
	}
	n, sum, err := hashcopy.CopyFrom(w, stallGuard(body, d.stall, cancel), tf.Length-size, h, cb)
	res.transferred += n
	if dw != nil {
		if ferr := dw.Flush(); err == nil && ferr != nil {
			err = ferr
		}
	}
	if errors.Is(err, hashcopy.ErrTooLong) {
		os.Remove(dest)
		return errorf(LengthExceeded, err, "%s: the server sent more than the signed %d bytes", name, tf.Length)
	}
	if err != nil {
		f.Sync() // keep what arrived for the next attempt
		code := Network
		if c := classifyFS(err); c == InsufficientStorage {
			code = c
		}
		return errorf(code, err, "downloading %s (%d of %d bytes)", name, size+n, tf.Length)
	}
	if size+n < tf.Length {
		f.Sync()
		return errorf(Network, nil, "downloading %s: connection closed after %d of %d bytes", name, size+n, tf.Length)
	}
	if !bytes.Equal(sum[:], want) {
		os.Remove(dest)
		return errorf(HashMismatch, nil, "%s: SHA-256 %x, signed %x", name, sum[:], []byte(want))
	}
	if err := f.Sync(); err != nil {
		return errorf(classifyFS(err), err, "syncing %s", name)
	}
	return nil
}

// rehashPrefix hashes what a staged file already holds. A file longer than
// the signed length is emptied.
func rehashPrefix(f *os.File, length int64) (int64, hashWriter, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, nil, err
	}
	if fi.Size() > length {
		return restart(f)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, io.LimitReader(f, fi.Size()), make([]byte, 1<<20))
	if err != nil || n != fi.Size() {
		return restart(f)
	}
	return n, h, nil
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

// restart empties a staged file.
func restart(f *os.File) (int64, hashWriter, error) {
	if err := f.Truncate(0); err != nil {
		return 0, nil, errorf(classifyFS(err), err, "emptying a staged file")
	}
	return 0, sha256.New(), nil
}

// offsetWriter writes sequentially from an offset with WriteAt, for
// filesystems without direct I/O.
type offsetWriter struct {
	f   *os.File
	off int64
}

func (w *offsetWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	return n, err
}

// open starts reading a target from offset. It returns the body and the
// offset the body actually starts at (0 when the server ignores Range).
func (d *downloader) open(ctx context.Context, url string, offset, length int64) (io.ReadCloser, int64, error) {
	if path, ok := strings.CutPrefix(url, "file://"); ok {
		f, err := os.Open(path)
		if err != nil {
			if os.IsNotExist(err) {
				return nil, 0, errorf(TargetNotFound, err, "%s", url)
			}
			return nil, 0, errorf(Network, err, "%s", url)
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, 0, errorf(Network, err, "%s", url)
		}
		return f, offset, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, errorf(Network, err, "%s", url)
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, 0, errorf(Network, err, "%s", url)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Body, 0, nil
	case http.StatusPartialContent:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start > offset {
			resp.Body.Close()
			return nil, 0, errorf(Network, nil, "%s: unusable Content-Range %q", url, resp.Header.Get("Content-Range"))
		}
		if start < offset { // earlier than asked: skip what we have
			if _, err := io.CopyN(io.Discard, resp.Body, offset-start); err != nil {
				resp.Body.Close()
				return nil, 0, errorf(Network, err, "%s", url)
			}
		}
		return resp.Body, offset, nil
	case http.StatusRequestedRangeNotSatisfiable:
		resp.Body.Close()
		// The file on the server is shorter than what we hold: start over.
		return d.open(ctx, url, 0, length)
	case http.StatusNotFound:
		resp.Body.Close()
		return nil, 0, errorf(TargetNotFound, nil, "%s: HTTP 404", url)
	}
	resp.Body.Close()
	return nil, 0, errorf(Network, nil, "%s: HTTP %d", url, resp.StatusCode)
}

// contentRangeStart parses "bytes START-END/TOTAL".
func contentRangeStart(v string) (int64, bool) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, false
	}
	startStr, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(startStr, 10, 64)
	return n, err == nil && n >= 0
}

// stallGuard cancels the transfer when no byte arrives for d: a stalled
// connection then fails fast and the download resumes on a new one.
func stallGuard(r io.Reader, d time.Duration, cancel func()) io.Reader {
	if d <= 0 {
		return r
	}
	g := &stallReader{r: r, timer: time.AfterFunc(d, cancel), d: d}
	return g
}

type stallReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
	mu    sync.Mutex
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.mu.Lock()
		s.timer.Reset(s.d)
		s.mu.Unlock()
	}
	if err != nil {
		s.timer.Stop()
	}
	return n, err
}

// classifyFS gives filesystem errors their code: a full disk is
// INSUFFICIENT_STORAGE, anything else a damaged state directory.
func classifyFS(err error) Code {
	if c := classify(err); c == InsufficientStorage {
		return c
	}
	return StateInvalid
}
