package delta

import (
	"io"
	"sync"
)

// Read-ahead buffers: raDepth of raBuf bytes per stream.
const (
	raBuf   = 512 << 10
	raDepth = 3
)

// readAhead decompresses a diff or extra stream in a goroutine of its
// own, up to raDepth buffers ahead of the reader, so that decompressing
// (the larger part of applying a fine-tune patch) runs on one core while
// the target is rebuilt on another. Its buffers are allocated once and
// reused for every segment; memory is bounded by raDepth*raBuf.
type readAhead struct {
	bufs       [raDepth][]byte
	free, full chan raChunk
	done       chan struct{}
	wg         sync.WaitGroup
	running    bool

	held []byte // the buffer cur is a part of, given back when used up
	cur  []byte
	err  error // returned once cur is used up

	hook func() // applyHooks.readAhead
}

type raChunk struct {
	b   []byte
	err error
}

// newReadAhead prepares the read-ahead of the streams of a target of
// targetLen bytes. No diff or extra stream of a valid patch decompresses
// to more than its target, so each buffer holds a third of it (rounded up
// to a page), at most raBuf: small patches do not pay for large buffers.
// A stream longer than that (a hostile patch) is still read, a buffer at
// a time.
func newReadAhead(hook func(), targetLen int64) *readAhead {
	ra := &readAhead{hook: hook}
	per := (max(targetLen, 1) + raDepth - 1) / raDepth
	size := int(min(raBuf, (per+4095)/4096*4096))
	for i := range ra.bufs {
		ra.bufs[i] = make([]byte, size)
	}
	return ra
}

// start reads r ahead until it returns an error (io.EOF included) or stop
// is called. The reader must not be used by anyone else until stop.
func (ra *readAhead) start(r io.Reader) {
	ra.stop()
	ra.free, ra.full = make(chan raChunk, raDepth), make(chan raChunk, raDepth)
	for _, b := range ra.bufs {
		ra.free <- raChunk{b: b}
	}
	ra.done = make(chan struct{})
	ra.held, ra.cur, ra.err = nil, nil, nil
	ra.running = true
	ra.wg.Add(1)
	go ra.fill(r, ra.free, ra.full, ra.done)
}

func (ra *readAhead) fill(r io.Reader, free <-chan raChunk, full chan<- raChunk, done <-chan struct{}) {
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
func (ra *readAhead) read(r io.Reader, b []byte) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicErr("decompressing a stream", p)
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

// stop ends the goroutine and waits for it, so that the stream's decoder
// can be reset; it is a no-op when nothing runs.
func (ra *readAhead) stop() {
	if !ra.running {
		return
	}
	close(ra.done)
	ra.wg.Wait()
	ra.running = false
}

// more waits for the next buffer when the current one is used up; it
// returns the stream's error (io.EOF at its end) once nothing is left.
func (ra *readAhead) more() error {
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

func (ra *readAhead) Read(p []byte) (int, error) {
	if err := ra.more(); err != nil {
		return 0, err
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// next returns the next n bytes of the stream: in place when the current
// buffer holds them, which is the usual case, else gathered into tmp
// (len(tmp) >= n). The bytes are valid until the next call.
func (ra *readAhead) next(n int, tmp []byte) ([]byte, error) {
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

// lockedReaderAt serializes ReadAt calls. The patch is read by the
// control decoder and by both read-ahead goroutines at once, and not every
// io.ReaderAt allows that, whatever its contract says: afero's in-memory
// files implement ReadAt as a seek and a read.
type lockedReaderAt struct {
	mu sync.Mutex
	r  io.ReaderAt
}

func (l *lockedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.ReadAt(p, off)
}
