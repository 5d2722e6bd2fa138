// Package hashcopy copies a stream while computing its SHA-256. Reading
// and hashing run on one goroutine and writing on another, over a small
// fixed set of buffers: memory stays at a few MiB whatever the stream's
// size, and the copy takes about as long as the slower of the two sides
// rather than their sum. Writer is the writing side alone, for a producer
// that computes its bytes rather than reading them.
package hashcopy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/directio"
)

const (
	// BufferSize is the size of each buffer in flight.
	BufferSize = 1 << 20
	buffers    = 4
)

// ErrTooLong is returned when the source has more bytes than the limit.
var ErrTooLong = errors.New("stream longer than its limit")

// Copy copies src to dst until EOF and returns the number of bytes copied
// and their SHA-256. If limit >= 0 and src holds more than limit bytes,
// Copy stops after limit bytes and returns ErrTooLong (wrapped): nothing
// past the limit is ever written. progress, if set, is called with the
// running total after each buffer is read.
func Copy(dst io.Writer, src io.Reader, limit int64, progress func(done int64)) (int64, [sha256.Size]byte, error) {
	return CopyFrom(dst, src, limit, nil, progress)
}

// CopyFrom is Copy with a hash that already holds a prefix (for resuming a
// download whose first bytes are on disk); pass nil for a fresh SHA-256.
// The returned count covers only the bytes copied now.
func CopyFrom(dst io.Writer, src io.Reader, limit int64, h interface {
	io.Writer
	Sum([]byte) []byte
}, progress func(done int64)) (int64, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if h == nil {
		h = sha256.New()
	}
	w := startWriter(dst, nil, buffers, "hashcopy.written")

	var total int64
	var readErr error
	for {
		b := w.take()
		if b == nil {
			break // the writer failed; stop reading
		}
		want := len(b)
		if limit >= 0 && int64(want) > limit-total+1 {
			// Read at most one byte past the limit: enough to detect excess.
			want = int(limit - total + 1)
		}
		n, err := io.ReadFull(src, b[:want])
		if limit >= 0 && total+int64(n) > limit {
			n = int(limit - total)
			readErr = fmt.Errorf("%w (limit %d bytes)", ErrTooLong, limit)
		}
		if n > 0 {
			h.Write(b[:n])
			total += int64(n)
			w.full <- b[:n]
			if progress != nil {
				progress(total)
			}
		} else {
			w.free <- b
		}
		if readErr != nil {
			break
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	if werr := w.finish(); werr != nil {
		return total, sum, werr
	}
	if readErr != nil {
		return total, sum, readErr
	}
	copy(sum[:], h.Sum(nil))
	return total, sum, nil
}

// writer is the writing side of a copy: a goroutine that writes each
// buffer sent on full to dst, in order, and hands it back on free.
type writer struct {
	free, full chan []byte
	failed     chan struct{} // closed on the first write error
	err        error         // that error: read only after failed or done is closed
	done       chan struct{} // closed when the goroutine returns
	made, max  int           // buffers taken from the pool so far, and the most allowed
}

// pool holds the buffers of finished copies (*[]byte, aligned, BufferSize
// long): publishing or installing a bundle of a thousand small files makes
// a thousand copies, and allocating (and zeroing) fresh buffers for each
// cost more than hashing and writing the files.
var pool sync.Pool

// take returns a buffer to fill: a free one, else a new one from the pool
// while fewer than max are out, else the next one the writing side hands
// back. A small stream thus uses one buffer, not max. It returns nil once
// the writing side failed.
func (w *writer) take() []byte {
	select {
	case b := <-w.free:
		return b
	default:
	}
	if w.made < w.max {
		w.made++
		if p, ok := pool.Get().(*[]byte); ok {
			return *p
		}
		return directio.AlignedBuffer(BufferSize)
	}
	select {
	case b := <-w.free:
		return b
	case <-w.failed:
		return nil
	}
}

// startWriter starts the writing side with n buffers (aligned, so a
// direct-I/O writer can hand them to the kernel as is); h, if not nil,
// hashes each buffer before it is written; point, if not empty, is the
// crash point passed after each buffer written.
func startWriter(dst io.Writer, h hash.Hash, n int, point string) *writer {
	w := &writer{
		free:   make(chan []byte, n),
		full:   make(chan []byte, n),
		failed: make(chan struct{}),
		done:   make(chan struct{}),
		max:    n,
	}
	go func() {
		defer close(w.done)
		for b := range w.full {
			if w.err == nil {
				if h != nil {
					h.Write(b)
				}
				if _, w.err = dst.Write(b); w.err != nil {
					close(w.failed)
				}
				if point != "" {
					crashpoint.Hit(point)
				}
			}
			w.free <- b[:cap(b)]
		}
	}()
	return w
}

// finish waits for every buffer sent to be written and returns the first
// write error.
// The buffers go back to the pool: the writing side has handed back
// every one it was sent.
func (w *writer) finish() error {
	close(w.full)
	<-w.done
	for {
		select {
		case b := <-w.free:
			pool.Put(&b)
		default:
			return w.err
		}
	}
}

// Writer is an io.WriteCloser that gathers what is written into
// BufferSize buffers, and hashes (SHA-256) and writes them to its
// destination on a goroutine of its own, so that a producer that computes
// its bytes (a decryption, say) waits neither for the hash nor for the
// disk: they overlap as a Copy's reading and writing do. It holds two
// buffers (one filled while the other is hashed and written: enough for
// the overlap, and memory counts on a device). Its destination gets
// BufferSize writes (the last one shorter) from aligned buffers, as a
// direct-I/O writer wants them.
type Writer struct {
	w      *writer
	h      hash.Hash
	buf    []byte // being filled; nil: none taken yet
	closed bool
	err    error
}

// NewWriter returns a Writer to dst. Close it, also after a failure: that
// stops its goroutine.
func NewWriter(dst io.Writer) *Writer {
	h := sha256.New()
	return &Writer{w: startWriter(dst, h, 2, ""), h: h}
}

// Write copies p into the buffers; it fails with the destination's first
// write error once one happened.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("hashcopy: write to a closed Writer")
	}
	n := 0
	for len(p) > 0 {
		if w.buf == nil {
			b := w.w.take()
			if b == nil {
				return n, w.w.err
			}
			w.buf = b[:0]
		}
		c := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf, p, n = w.buf[:len(w.buf)+c], p[c:], n+c
		if len(w.buf) == cap(w.buf) {
			w.w.full <- w.buf
			w.buf = nil
		}
	}
	return n, nil
}

// Close writes what is still buffered, waits until everything is
// written, and returns the first write error.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if len(w.buf) > 0 {
		w.w.full <- w.buf
	}
	w.buf = nil
	w.err = w.w.finish()
	return w.err
}

// CloseSum is Close, then the SHA-256 of everything written.
func (w *Writer) CloseSum() ([]byte, error) {
	if err := w.Close(); err != nil {
		return nil, err
	}
	return w.h.Sum(nil), nil
}
