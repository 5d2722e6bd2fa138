package transport

import (
	"context"
	"errors"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/spf13/afero"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/internal/directio"
	"github.com/edgetuf/edgetuf/internal/fsfetch"
	"github.com/edgetuf/edgetuf/internal/hashcopy"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Downloader streams target files into staging: bounded by the signed
// length, hashed while written, resumed with HTTP Range after a failure.
type Downloader struct {
	HTTP     *http.Client
	Stall    time.Duration // abort a transfer that makes no Progress this long
	Retries  int           // further attempts After a network failure
	Backoff  time.Duration // first pause between attempts, doubled each time
	Progress func(name string, done, total int64)
	After    AfterFunc    // starts the Stall watchdog's timer
	Log      *slog.Logger // a debug record per file and retry (nil: none)
	// Observe, if set, is told at the start of each attempt that writes
	// the file the offset it writes from (what it kept of the staged
	// part), and gets every byte the attempt writes, in order, as it is
	// written. Its writer must not fail. The decryption of an encrypted
	// file follows its download so, without reading it back.
	Observe func(off int64) io.Writer
	// Scratch says the file is used once and removed (the ciphertext of a
	// file installed decrypted): a complete, verified file is then not
	// fsynced. What must be durable is what is made of it (the decrypted
	// file, fsynced before it is installed). If a power loss leaves the
	// file damaged, the next run finds its hash wrong and fetches it
	// again: only time is lost, never a check.
	Scratch bool
	// SyncLater says a complete, verified file is not fsynced here: the
	// caller fsyncs it with the other files of its version before it
	// installs them (devstate.MoveVerified). Until then a power loss can
	// damage it, which the next run's hash of the staged part finds.
	SyncLater bool
}

// SyncingLater returns a copy of d with SyncLater set.
func (d *Downloader) SyncingLater() *Downloader {
	c := *d
	c.SyncLater = true
	return &c
}

// FetchResult reports one file's download.
type FetchResult struct {
	Transferred int64 // bytes received from the network in this run
	ResumedFrom int64 // bytes already in staging that were re-hashed and kept
	Cleaned     bool  // a staged copy was corrupt and discarded
	Prefix      int64 // bytes the last attempt kept from staging before appending
}

// fetch makes dest hold exactly the target's bytes, reusing (after
// re-hashing, never trusting) what an earlier run left there. Every
// attempt is one request (or one open of a file:// mirror's file), and
// at most 1+retries attempts are made: a failure that a new attempt may
// cure (a dropped or stalled connection, a server error, a 416 or an
// unusable Content-Range) is retried after a pause; one it cannot cure
// (404, a refused redirect, an untrusted certificate, a hash or length
// mismatch) is returned at once. The one exception is a staged prefix that
// turns out damaged on disk: the file is then fetched whole once more.
func (d *Downloader) Fetch(ctx context.Context, url string, tf *metadata.TargetFiles, dest, name string) (FetchResult, error) {
	var res FetchResult
	delay := d.Backoff
	refetched := false
	for attempt := 0; ; attempt++ {
		err := d.attempt(ctx, url, tf, dest, name, attempt == 0, &res)
		if err == nil {
			d.debug("file downloaded", "file", name, "bytes", res.Transferred, "resumed_from", res.ResumedFrom, "length", tf.Length)
			return res, nil
		}
		if codes.CodeOf(err) == codes.HashMismatch && res.Prefix > 0 && !refetched {
			// The bytes kept from staging were damaged on disk (a flipped
			// bit, a torn write): only the final hash shows it. attempt has
			// removed the file; fetch it whole, once.
			refetched, res.Cleaned, res.ResumedFrom = true, true, 0
			attempt--
			continue
		}
		if codes.CodeOf(err) != codes.Network || FinalNetErr(err) || attempt >= d.Retries || ctx.Err() != nil {
			return res, err
		}
		d.debug("retrying download", "file", name, "attempt", attempt+2, "after", delay, "error", err)
		if err := sleepCtx(ctx, delay); err != nil {
			return res, Stopped(ctx, "downloading %s", name)
		}
		if delay < 30*time.Second {
			delay *= 2
		}
	}
}

func (d *Downloader) debug(msg string, args ...any) {
	if d.Log != nil {
		d.Log.Debug(msg, args...)
	}
}

// sleepCtx pauses for d, or less if ctx ends first (then it returns
// ctx's error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// TimeoutCause is the cause a context is cancelled with when one of this
// package's own limits ends the work: a stall, the metadata deadline, the
// run's Options.Timeout. The work failed for want of a usable network.
type TimeoutCause struct{ Msg string }

func (e *TimeoutCause) Error() string { return e.Msg }

// Stopped is the error for work whose context ended: NETWORK when one of
// this package's limits ended it, INTERRUPTED when a signal did (mclient's
// SIGINT or SIGTERM), CANCELLED when the caller did otherwise (its
// cancellation or deadline in a library).
func Stopped(ctx context.Context, format string, args ...any) *codes.Error {
	cause := context.Cause(ctx)
	var tc *TimeoutCause
	if errors.As(cause, &tc) {
		return codes.Errorf(codes.Network, cause, format, args...)
	}
	return codes.Errorf(codes.StopCode(ctx), cause, format, args...)
}

// netFailure is the error for a failed transfer: Stopped's when ctx
// ended (which is why the transfer failed), NETWORK otherwise.
func netFailure(ctx context.Context, err error, format string, args ...any) *codes.Error {
	if ctx.Err() != nil {
		return Stopped(ctx, format, args...)
	}
	return codes.Errorf(codes.Network, err, format, args...)
}

// stallCause is how an attempt that received nothing for d ends.
func stallCause(d time.Duration) error {
	return &TimeoutCause{fmt.Sprintf("no data for %v (stall timeout)", d)}
}

func (d *Downloader) attempt(ctx context.Context, url string, tf *metadata.TargetFiles, dest, name string, first bool, res *FetchResult) error {
	f, err := openStaged(dest) // never through a link, never a FIFO
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staging %s", name)
	}
	defer f.Close()
	size, h, err := rehashPrefix(f, tf)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "reading staged %s", name)
	}
	if size == tf.Length {
		if h.Check(name) == nil {
			if first {
				res.ResumedFrom = size
			}
			return nil
		}
		// A staged copy of the right length with the wrong bytes: discard.
		res.Cleaned = true
		if size, h, err = restart(f, tf); err != nil {
			return err
		}
	}
	if first {
		res.ResumedFrom = size
	}

	// One watchdog for the whole attempt: connecting, waiting for the
	// answer, and every read of the body.
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := startWatchdog(d.After, d.Stall, func() { cancel(stallCause(d.Stall)) })
	defer wd.stop()
	body, start, err := d.open(actx, url, size, wd)
	if errors.Is(err, errStaleRange) {
		// The server holds less than we staged: the staged bytes are not
		// a prefix of its file. Start over in the next attempt.
		res.ResumedFrom = 0
		if _, _, rerr := restart(f, tf); rerr != nil {
			return rerr
		}
		return codes.Errorf(codes.Network, err, "the staged part is discarded")
	}
	if err != nil {
		return err
	}
	defer body.Close()
	if start != size { // the server ignored the Range request
		res.ResumedFrom = 0
		if size, h, err = restart(f, tf); err != nil {
			return err
		}
	}
	res.Prefix = size
	var w io.Writer = &offsetWriter{f: f, off: size}
	var dw *directio.Writer
	if directio.Worthwhile(tf.Length - size) {
		dw = directio.Open(dest, f, size)
	}
	if dw != nil {
		defer dw.Close()
		w = dw
	}
	if d.Observe != nil {
		w = io.MultiWriter(w, d.Observe(size))
	}
	var cb func(int64)
	if d.Progress != nil {
		cb = func(n int64) { d.Progress(name, size+n, tf.Length) }
	}
	n, _, err := hashcopy.CopyFrom(w, wd.reader(body), tf.Length-size, h, cb)
	res.Transferred += n
	if dw != nil {
		if ferr := dw.Flush(); err == nil && ferr != nil {
			err = ferr
		}
	}
	if errors.Is(err, hashcopy.ErrTooLong) {
		os.Remove(dest)
		return codes.Errorf(codes.LengthExceeded, err, "%s: the server sent more than the signed %d bytes", name, tf.Length)
	}
	if err != nil {
		f.Sync() // keep what arrived for the next attempt
		if c := codes.ClassifyFS(err); c == codes.InsufficientStorage {
			return codes.Errorf(c, err, "downloading %s (%d of %d bytes)", name, size+n, tf.Length)
		}
		return netFailure(actx, err, "downloading %s (%d of %d bytes)", name, size+n, tf.Length)
	}
	if size+n < tf.Length {
		f.Sync()
		return codes.Errorf(codes.Network, nil, "downloading %s: connection closed after %d of %d bytes", name, size+n, tf.Length)
	}
	// Every supported algorithm the target lists, not just one: a
	// repository that lists two signs both, and either may be the one an
	// attacker can collide.
	if err := h.Check(name); err != nil {
		os.Remove(dest)
		return err
	}
	if d.Scratch || d.SyncLater {
		return nil
	}
	if err := f.Sync(); err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "syncing %s", name)
	}
	return nil
}

// rehashPrefix hashes what a staged file already holds, with every
// algorithm the target lists (one read for all). A file longer than the
// signed length is emptied.
func rehashPrefix(f *os.File, tf *metadata.TargetFiles) (int64, *TargetHash, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, nil, err
	}
	if fi.Size() > tf.Length {
		return restart(f, tf)
	}
	h := NewTargetHash(tf)
	if fi.Size() == 0 { // the usual case: nothing staged, no buffer to allocate
		return 0, h, nil
	}
	n, err := io.CopyBuffer(h, io.LimitReader(f, fi.Size()), make([]byte, min(fi.Size(), 1<<20)))
	if err != nil || n != fi.Size() {
		return restart(f, tf)
	}
	return n, h, nil
}

// restart empties a staged file and returns fresh hashes for tf.
func restart(f *os.File, tf *metadata.TargetFiles) (int64, *TargetHash, error) {
	if err := f.Truncate(0); err != nil {
		return 0, nil, codes.Errorf(codes.ClassifyFS(err), err, "emptying a staged file")
	}
	return 0, NewTargetHash(tf), nil
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

// errStaleRange: the server answered 416 to a request that resumes a
// download.
var errStaleRange = errors.New("range not satisfiable")

// open starts reading a target from offset, with one request. It returns
// the body and the offset the body actually starts at (0 when the server
// ignores Range). Reads made here (skipping an earlier start than asked)
// kick wd; the caller reads the body through wd.reader. ctx ends the
// request and every read of the body.
func (d *Downloader) open(ctx context.Context, url string, offset int64, wd *watchdog) (io.ReadCloser, int64, error) {
	if path, ok := strings.CutPrefix(url, "file://"); ok {
		f, err := fsfetch.OpenRegular(osFS, path)
		if err != nil {
			if os.IsNotExist(err) {
				return nil, 0, codes.Errorf(codes.TargetNotFound, err, "%s", url)
			}
			return nil, 0, codes.Errorf(codes.Network, err, "%s", url)
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, 0, codes.Errorf(codes.Network, err, "%s", url)
		}
		// A read of a hung device or a network filesystem can block for
		// ever: it is abandoned when ctx ends.
		return readCloser{fsfetch.NewReader(ctx, f), f}, offset, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, codes.Errorf(codes.Network, err, "%s", url)
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := d.HTTP.Do(req)
	if err != nil {
		return nil, 0, netFailure(ctx, err, "%s", url)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Body, 0, nil
	case http.StatusPartialContent:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start > offset {
			resp.Body.Close()
			return nil, 0, codes.Errorf(codes.Network, nil, "%s: unusable Content-Range %q", url, resp.Header.Get("Content-Range"))
		}
		if start < offset { // earlier than asked: skip what we have
			if _, err := io.CopyN(io.Discard, wd.reader(resp.Body), offset-start); err != nil {
				resp.Body.Close()
				return nil, 0, netFailure(ctx, err, "%s", url)
			}
		}
		return resp.Body, offset, nil
	case http.StatusRequestedRangeNotSatisfiable:
		resp.Body.Close()
		if offset > 0 {
			return nil, 0, codes.Errorf(codes.Network, errStaleRange, "%s: HTTP 416 for bytes %d-", url, offset)
		}
	case http.StatusNotFound:
		resp.Body.Close()
		return nil, 0, codes.Errorf(codes.TargetNotFound, nil, "%s: HTTP 404", url)
	}
	resp.Body.Close()
	return nil, 0, codes.Errorf(codes.Network, nil, "%s: HTTP %d", url, resp.StatusCode)
}

type readCloser struct {
	io.Reader
	io.Closer
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

// watchdog calls fire when it is not kicked for d: a transfer that makes
// no progress for d is abandoned (and resumed by a new attempt).
type watchdog struct {
	mu    sync.Mutex
	timer StopResetter
	d     time.Duration
}

// startWatchdog starts a watchdog; d <= 0 never fires.
func startWatchdog(after AfterFunc, d time.Duration, fire func()) *watchdog {
	w := &watchdog{d: d}
	if d > 0 {
		w.timer = after(d, fire)
	}
	return w
}

func (w *watchdog) kick() {
	if w.timer == nil {
		return
	}
	w.mu.Lock()
	w.timer.Reset(w.d)
	w.mu.Unlock()
}

func (w *watchdog) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// reader kicks the watchdog whenever r delivers bytes.
func (w *watchdog) reader(r io.Reader) io.Reader { return kickReader{r, w} }

type kickReader struct {
	r io.Reader
	w *watchdog
}

func (k kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.w.kick()
	}
	return n, err
}

// openStaged opens (creating it) a file being downloaded into staging: a
// regular file, reached without following a link at its last component
// (the directories above it were made or checked by the caller with
// safefs, cleanStaging and MkdirAll).
func openStaged(path string) (*os.File, error) {
	return safefs.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

var osFS = afero.NewOsFs()
