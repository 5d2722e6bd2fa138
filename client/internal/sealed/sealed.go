// Package sealed is the device side of encrypted versions
// (docs/encryption.md): it obtains and opens a version's key envelope
// (through client/internal/keyaccess and modelcrypt.OpenEnvelope), and
// decrypts a staged ciphertext (payload file or patch) into staging,
// bounded by and checked against the signed plaintext length and SHA-256,
// so that only fully verified plaintext ever leaves staging. Package
// client decides when; this package never touches a version directory.
package sealed

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/client/internal/keyaccess"
	"github.com/edgetuf/edgetuf/client/internal/keyring"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/directio"
	"github.com/edgetuf/edgetuf/internal/hashcopy"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// Keys obtains the content keys of encrypted versions for this device.
type Keys struct {
	Fetcher *keyaccess.Fetcher
	// Ring holds the device's keys: the fleet key for "fleet", the
	// device key otherwise, each opened on first use.
	Ring *keyring.Keys
	Now  func() time.Time
}

// Open returns the content key of modelID@version (whose signed
// encryption field is enc) and the envelope it came in. Errors are
// *codes.Error: KEY_UNAVAILABLE (no key for this delivery, no envelope,
// the key service refused), DECRYPT_FAILED (an envelope this key cannot
// open, for another version, expired, or holding a key other than the
// signed one), DEVICE_KEY_UNAVAILABLE (the key failed), NETWORK or a stop.
func (k *Keys) Open(ctx context.Context, enc *targets.Encryption, modelID, version string) (*modelcrypt.ContentKey, []byte, error) {
	key, err := k.Ring.For(enc.Delivery)
	if err != nil {
		return nil, nil, err
	}
	env, err := k.Fetcher.Envelope(ctx, enc.Delivery, modelID, version, key)
	if err != nil {
		return nil, nil, err
	}
	ck, err := k.Ring.Open(env, enc, modelID, version, k.Now())
	if err != nil {
		return nil, nil, err
	}
	return ck, env, nil
}

// writtenStep is how often decryption passes a crash point: every MiB
// written, as downloads do.
const writtenStep = 1 << 20

// File decrypts the staged ciphertext src into dst (created or truncated,
// 0600, in staging), writing at most plain.Length bytes, and checks the
// plaintext against plain; dst is fsynced. On any failure dst is removed:
// nothing unverified stays. Errors: DECRYPT_FAILED, a stop when ctx ends,
// or the filesystem's.
func File(ctx context.Context, src, dst string, key *modelcrypt.ContentKey, plain *targets.Plaintext) error {
	in, err := safefs.OpenFile(src, os.O_RDONLY, 0)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staged ciphertext")
	}
	defer in.Close()
	return decryptInto(ctx, dst, in, key, plain)
}

// decryptInto decrypts in into dst (created or truncated, 0600), checks
// it, fsyncs it, and removes it on any failure.
func decryptInto(ctx context.Context, dst string, in io.Reader, key *modelcrypt.ContentKey, plain *targets.Plaintext) error {
	out, err := safefs.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staging %s", filepath.Base(dst))
	}
	err = decryptTo(ctx, out, dst, in, key, plain)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = codes.Errorf(codes.ClassifyFS(cerr), cerr, "writing %s", filepath.Base(dst))
	}
	if err != nil {
		os.Remove(dst)
		return err
	}
	crashpoint.Hit("client.decrypt.done")
	return nil
}

func decryptTo(ctx context.Context, out *os.File, dst string, in io.Reader, key *modelcrypt.ContentKey, plain *targets.Plaintext) error {
	var w io.Writer = out
	dw := directio.Open(dst, out, 0)
	if dw != nil {
		defer dw.Close()
		w = dw
	}
	// The plaintext is hashed and written on a goroutine of its own
	// (hashcopy.Writer), so that its SHA-256 and the disk's time overlap
	// the decryption rather than adding to it.
	aw := hashcopy.NewWriter(&crashWriter{w: w})
	if err := checked(ctx, modelcrypt.DecryptVerifiedTo(aw, aw.CloseSum, reader(ctx, in), key, plain.Length, plain.SHA256)); err != nil {
		aw.Close() // stops its goroutine if the decryption failed first
		return err
	}
	var err error
	if dw != nil {
		err = dw.Flush()
	}
	if err == nil {
		err = out.Sync()
	}
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "writing %s", filepath.Base(dst))
	}
	return nil
}

// Check decrypts src to dst (io.Discard for a verification pass) and
// checks the plaintext against plain (modelcrypt.DecryptVerified). It
// stops when ctx ends.
func Check(ctx context.Context, src io.Reader, dst io.Writer, key *modelcrypt.ContentKey, plain *targets.Plaintext) error {
	return checked(ctx, modelcrypt.DecryptVerified(dst, reader(ctx, src), key, plain.Length, plain.SHA256))
}

// reader is how a decryption reads its ciphertext: in 1 MiB reads, and
// stopping when ctx ends.
func reader(ctx context.Context, src io.Reader) io.Reader {
	return bufio.NewReaderSize(installed.ContextReader(ctx, src), 1<<20)
}

// checked gives the error of a decryption its code: a stop when ctx
// ended, DECRYPT_FAILED (modelcrypt's), else the filesystem's.
func checked(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return codes.Errorf(codes.StopCode(ctx), ctx.Err(), "decrypting")
	}
	var me *modelcrypt.Error
	if errors.As(err, &me) {
		return codes.Errorf(codes.Code(me.Code), me.Err, "decrypting")
	}
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "decrypting")
	}
	return nil
}

// CheckFile is Check of the staged file path to io.Discard.
func CheckFile(ctx context.Context, path string, key *modelcrypt.ContentKey, plain *targets.Plaintext) error {
	f, err := safefs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staged ciphertext")
	}
	defer f.Close()
	return Check(ctx, f, io.Discard, key, plain)
}

// crashWriter passes the crash point client.decrypt.written every
// writtenStep bytes.
type crashWriter struct {
	w    io.Writer
	left int
}

func (c *crashWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.left -= n
	if c.left <= 0 {
		crashpoint.Hit("client.decrypt.written")
		c.left = writtenStep
	}
	return n, err
}

// StoreEnvelope writes env at path (devstate.ModelPaths.Envelope)
// atomically (write, fsync, rename, fsync the directory), in a 0700
// directory, 0600.
func StoreEnvelope(sfs *safefs.FS, path string, env []byte) error {
	if err := sfs.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "key envelope directory")
	}
	if err := atomicfs.WriteFile(afero.NewOsFs(), path, env, 0o600); err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "storing the key envelope %s", filepath.Base(path))
	}
	return nil
}

// Follow is File for a ciphertext that is still being downloaded into
// src: it decrypts the bytes as the downloader writes them (feed, set as
// the transport.Downloader's Observe), so that decryption overlaps the
// transfer, and reads from src only what an attempt kept of an earlier
// staged part: a resumed download is decrypted from its first byte. Its
// result stands only if the download verified too. A download that
// rewrites the part from an earlier offset makes it fail (the caller
// then decrypts the verified ciphertext again with File). On any failure
// dst is removed.
func Follow(ctx context.Context, src, dst string, key *modelcrypt.ContentKey, plain *targets.Plaintext, feed *Feed) error {
	defer feed.stop()
	r := &feedReader{ctx: ctx, f: feed, src: src}
	defer r.close()
	stopWake := context.AfterFunc(ctx, feed.wake)
	defer stopWake()
	return decryptInto(ctx, dst, r, key, plain)
}

// maxQueued bounds the bytes a Feed holds for a decryption that is behind
// the download (the download then waits); its buffers are reused.
const maxQueued = 4 << 20

// Feed hands a download's bytes to Follow as they are written.
type Feed struct {
	mu     sync.Mutex
	cond   *sync.Cond
	chunks []chunk
	free   [][]byte // consumed buffers, for reuse
	queued int
	start  int64 // the offset the current attempt writes from
	gen    int   // attempts so far
	done   bool  // the download is over
	dead   bool  // Follow returned: drop what comes
}

// NewFeed returns a Feed for one download.
func NewFeed() *Feed {
	f := &Feed{}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// Observe is the transport.Downloader's Observe.
func (f *Feed) Observe(off int64) io.Writer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	f.start, f.chunks, f.queued = off, nil, 0
	f.cond.Broadcast()
	return feedWriter{f, f.gen}
}

// Done says the download is over, whatever its outcome.
func (f *Feed) Done() {
	f.mu.Lock()
	f.done = true
	f.cond.Broadcast()
	f.mu.Unlock()
}

func (f *Feed) stop() {
	f.mu.Lock()
	f.dead, f.chunks, f.queued = true, nil, 0
	f.cond.Broadcast()
	f.mu.Unlock()
}

func (f *Feed) wake() {
	f.mu.Lock()
	f.cond.Broadcast()
	f.mu.Unlock()
}

// chunk is a queued buffer and how much of it was read.
type chunk struct {
	buf  []byte
	read int
}

type feedWriter struct {
	f   *Feed
	gen int
}

// Write queues a copy of p (waiting while maxQueued bytes are queued);
// it never fails: bytes of a superseded attempt, or for a decryption
// that stopped, are dropped.
func (w feedWriter) Write(p []byte) (int, error) {
	f := w.f
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.dead && w.gen == f.gen && f.queued > maxQueued {
		f.cond.Wait()
	}
	if !f.dead && w.gen == f.gen && len(p) > 0 {
		var buf []byte
		if n := len(f.free); n > 0 && cap(f.free[n-1]) >= len(p) {
			buf, f.free = f.free[n-1][:len(p)], f.free[:n-1]
		} else {
			buf = make([]byte, len(p))
		}
		copy(buf, p)
		f.chunks = append(f.chunks, chunk{buf: buf})
		f.queued += len(p)
		f.cond.Broadcast()
	}
	return len(p), nil
}

// errRewritten: the download rewrote bytes the decryption had read.
var errRewritten = errors.New("the staged part was rewritten while it was decrypted")

// feedReader reads a download's bytes: those an attempt kept of the
// staged part from src, then those it writes from the feed; once the
// download is over, whatever src holds beyond.
type feedReader struct {
	ctx  context.Context
	f    *Feed
	src  string
	file *os.File
	pos  int64 // bytes read so far
	gen  int
	disk int64 // read src up to here before taking from the feed
}

func (r *feedReader) Read(p []byte) (int, error) {
	f := r.f
	f.mu.Lock()
	for {
		if err := r.ctx.Err(); err != nil {
			f.mu.Unlock()
			return 0, err
		}
		if f.gen != r.gen {
			r.gen, r.disk = f.gen, f.start
			if f.start < r.pos {
				f.mu.Unlock()
				return 0, errRewritten
			}
		}
		if r.pos < r.disk || f.done && len(f.chunks) == 0 {
			// The attempt's kept prefix (the bytes it writes are queued
			// after it), or, once the download is over, whatever src
			// holds past what was fed.
			toEnd := r.pos >= r.disk
			f.mu.Unlock()
			return r.readDisk(p, toEnd)
		}
		if len(f.chunks) > 0 {
			c := &f.chunks[0]
			n := copy(p, c.buf[c.read:])
			if c.read += n; c.read == len(c.buf) {
				if len(f.free) < 8 {
					f.free = append(f.free, c.buf)
				}
				f.chunks = f.chunks[1:]
			}
			f.queued -= n
			r.pos += int64(n)
			f.cond.Broadcast()
			f.mu.Unlock()
			return n, nil
		}
		f.cond.Wait()
	}
}

// readDisk reads src at pos: up to disk, or (toEnd, once the download is
// over) to its end.
func (r *feedReader) readDisk(p []byte, toEnd bool) (int, error) {
	if r.file == nil {
		f, err := safefs.OpenFile(r.src, os.O_RDONLY, 0)
		if err != nil {
			return 0, err
		}
		r.file = f
	}
	if !toEnd && int64(len(p)) > r.disk-r.pos {
		p = p[:r.disk-r.pos]
	}
	n, err := r.file.ReadAt(p, r.pos)
	r.pos += int64(n)
	if n > 0 {
		return n, nil
	}
	if err == io.EOF && !toEnd {
		return 0, errRewritten // the attempt kept more than src holds
	}
	return 0, err
}

func (r *feedReader) close() {
	if r.file != nil {
		r.file.Close()
	}
}
