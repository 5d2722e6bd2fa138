// Package hashcopy copies a stream while computing its SHA-256. Reading
// and hashing run on one goroutine and writing on another, over a small
// fixed set of buffers: memory stays at a few MiB whatever the stream's
// size, and the copy takes about as long as the slower of the two sides
// rather than their sum.
package hashcopy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

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
	free := make(chan []byte, buffers)
	for i := 0; i < buffers; i++ {
		// Aligned, so a direct-I/O writer can hand them to the kernel as is.
		free <- directio.AlignedBuffer(BufferSize)
	}
	full := make(chan []byte, buffers)
	failed := make(chan struct{}) // closed on the first write error
	done := make(chan error, 1)
	go func() {
		var err error
		for b := range full {
			if err == nil {
				if _, err = dst.Write(b); err != nil {
					close(failed)
				}
				crashpoint.Hit("hashcopy.written")
			}
			free <- b[:cap(b)]
		}
		done <- err
	}()

	var total int64
	var readErr error
	for {
		var b []byte
		select {
		case b = <-free:
		case <-failed:
		}
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
			full <- b[:n]
			if progress != nil {
				progress(total)
			}
		} else {
			free <- b
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
	close(full)
	if werr := <-done; werr != nil {
		return total, sum, werr
	}
	if readErr != nil {
		return total, sum, readErr
	}
	copy(sum[:], h.Sum(nil))
	return total, sum, nil
}
