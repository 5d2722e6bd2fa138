// Package hashcopy copies a stream while computing its SHA-256, with the
// hashing and the writing running concurrently on a small fixed set of
// buffers: memory stays at a few MiB whatever the stream's size, and the
// copy takes about as long as the slower of hashing and writing rather
// than their sum.
package hashcopy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

const (
	// BufferSize is the size of each buffer in flight.
	BufferSize = 1 << 20
	buffers    = 4
)

// ErrTooLong is returned when the source has more bytes than the limit.
var ErrTooLong = errors.New("stream longer than its limit")

type chunk struct {
	buf  []byte
	n    int
	refs atomic.Int32
}

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
	free := make(chan *chunk, buffers)
	for i := 0; i < buffers; i++ {
		free <- &chunk{buf: make([]byte, BufferSize)}
	}
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			free <- c
		}
	}
	hashCh := make(chan *chunk, buffers)
	writeCh := make(chan *chunk, buffers)
	var writeErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for c := range hashCh {
			h.Write(c.buf[:c.n])
			release(c)
		}
	}()
	go func() {
		defer wg.Done()
		for c := range writeCh {
			if writeErr.Load() == nil {
				if _, err := dst.Write(c.buf[:c.n]); err != nil {
					writeErr.Store(err)
				}
			}
			release(c)
		}
	}()

	var total int64
	var readErr error
	for writeErr.Load() == nil {
		c := <-free
		want := len(c.buf)
		if limit >= 0 && int64(want) > limit-total+1 {
			// Read at most one byte past the limit: enough to detect excess.
			want = int(limit - total + 1)
		}
		n, err := io.ReadFull(src, c.buf[:want])
		if limit >= 0 && total+int64(n) > limit {
			n = int(limit - total)
			readErr = fmt.Errorf("%w (limit %d bytes)", ErrTooLong, limit)
		}
		if n > 0 {
			c.n = n
			c.refs.Store(2)
			total += int64(n)
			hashCh <- c
			writeCh <- c
			if progress != nil {
				progress(total)
			}
		} else {
			free <- c
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
	close(hashCh)
	close(writeCh)
	wg.Wait()
	if readErr != nil {
		return total, sum, readErr
	}
	if err, ok := writeErr.Load().(error); ok {
		return total, sum, err
	}
	copy(sum[:], h.Sum(nil))
	return total, sum, nil
}
