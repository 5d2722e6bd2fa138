// Package readahead decompresses a stream of a delta patch ahead of its
// reader, in a goroutine of its own, into a bounded set of reused
// buffers: package delta's Apply decodes its diff and extra streams with
// it on one core while it rebuilds the target on another.
package readahead

import (
	"io"
	"sync"
)

// Read-ahead buffers: Depth of at most BufSize bytes per stream.
const (
	BufSize = 512 << 10
	Depth   = 3
)

// Reader decompresses a diff or extra stream in a goroutine of its
// own, up to Depth buffers ahead of the reader, so that decompressing
// (the larger part of applying a fine-tune patch) runs on one core while
// the target is rebuilt on another. Its buffers are allocated once and
// reused for every segment; memory is bounded by Depth*BufSize.
type Reader struct {
	bufs       [Depth][]byte
	free, full chan raChunk
	done       chan struct{}
	wg         sync.WaitGroup
	running    bool

	held []byte // the buffer cur is a part of, given back when used up
	cur  []byte
	err  error // returned once cur is used up

	hook    func()            // called before each buffer is filled (a test's fault injection)
	onPanic func(p any) error // the error a panic in the decoder becomes
}

type raChunk struct {
	b   []byte
	err error
}

// New prepares the read-ahead of the streams of a target of
// targetLen bytes. No diff or extra stream of a valid patch decompresses
// to more than its target, so each buffer holds a third of it (rounded up
// to a page), at most BufSize: small patches do not pay for large buffers.
// A stream longer than that (a hostile patch) is still read, a buffer at
// a time. hook (nil for none) runs before each buffer is filled; onPanic
// turns a panic in the decoder into the stream's error.
func New(targetLen int64, hook func(), onPanic func(p any) error) *Reader {
	ra := &Reader{hook: hook, onPanic: onPanic}
	per := (max(targetLen, 1) + Depth - 1) / Depth
	size := int(min(BufSize, (per+4095)/4096*4096))
	for i := range ra.bufs {
		ra.bufs[i] = make([]byte, size)
	}
	return ra
}

// Start reads r ahead until it returns an error (io.EOF included) or Stop
// is called. The reader must not be used by anyone else until Stop.
func (ra *Reader) Start(r io.Reader) {
	ra.Stop()
	ra.free, ra.full = make(chan raChunk, Depth), make(chan raChunk, Depth)
	for _, b := range ra.bufs {
		ra.free <- raChunk{b: b}
	}
	ra.done = make(chan struct{})
	ra.held, ra.cur, ra.err = nil, nil, nil
	ra.running = true
	ra.wg.Add(1)
	go ra.fill(r, ra.free, ra.full, ra.done)
}

func (ra *Reader) fill(r io.Reader, free <-chan raChunk, full chan<- raChunk, done <-chan struct{}) {
	defer ra.wg.Done()
	for {
		var c raChunk
		select {
		case c = <-free:
		case <-done:
			return
		}
		b := c.b[:cap(c.b)]
		n, err := ra.read(r, b)
		select {
		case full <- raChunk{b: b[:n], err: err}:
		case <-done:
			return
		}
		if err != nil {
			return
		}
	}
}

// read fills b from r, up to an error. A panic in the decoder (a bug a
// hostile stream found) is recovered here, in the goroutine where it
// happened, and delivered to the reader as the stream's error.
func (ra *Reader) read(r io.Reader, b []byte) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = ra.onPanic(p)
		}
	}()
	if ra.hook != nil {
		ra.hook()
	}
	for n < len(b) && err == nil {
		var m int
		m, err = r.Read(b[n:])
		n += m
	}
	return n, err
}

// Stop ends the goroutine and waits for it, so that the stream's decoder
// can be reset; it is a no-op when nothing runs.
func (ra *Reader) Stop() {
	if !ra.running {
		return
	}
	close(ra.done)
	ra.wg.Wait()
	ra.running = false
}

// more waits for the next buffer when the current one is used up; it
// returns the stream's error (io.EOF at its end) once nothing is left.
func (ra *Reader) more() error {
	for len(ra.cur) == 0 {
		if ra.err != nil {
			return ra.err
		}
		if ra.held != nil {
			ra.free <- raChunk{b: ra.held}
			ra.held = nil
		}
		c := <-ra.full
		ra.held, ra.cur, ra.err = c.b, c.b, c.err
	}
	return nil
}

func (ra *Reader) Read(p []byte) (int, error) {
	if err := ra.more(); err != nil {
		return 0, err
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Next returns the next n bytes of the stream: in place when the current
// buffer holds them, which is the usual case, else gathered into tmp
// (len(tmp) >= n). The bytes are valid until the next call.
func (ra *Reader) Next(n int, tmp []byte) ([]byte, error) {
	if err := ra.more(); err != nil {
		return nil, err
	}
	if len(ra.cur) >= n {
		b := ra.cur[:n]
		ra.cur = ra.cur[n:]
		return b, nil
	}
	if _, err := io.ReadFull(ra, tmp[:n]); err != nil {
		return nil, err
	}
	return tmp[:n], nil
}

// LockedReaderAt serializes ReadAt calls to R. The patch is read by the
// control decoder, the read-ahead goroutines of the current segment's
// streams and those prefetching the next segment's at once, and not every
// io.ReaderAt allows that, whatever its contract says: afero's in-memory
// files implement ReadAt as a seek and a read.
type LockedReaderAt struct {
	R  io.ReaderAt
	mu sync.Mutex
}

func (l *LockedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.R.ReadAt(p, off)
}
