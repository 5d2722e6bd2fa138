package delta

import (
	"crypto/sha256"
	"hash"
	"io"
	"sync"

	"github.com/edgetuf/edgetuf/internal/directio"
)

// outBuf is the size of the output buffers; outBufs of them circulate.
const (
	outBuf  = 1 << 20
	outBufs = 3
)

// output hashes and writes the target in goroutines of their own: while
// the next megabyte is rebuilt, the previous one is hashed and the one
// before it written, so that neither the hash nor the write (mostly time
// spent waiting for the disk) adds to the time of rebuilding. Buffers are
// aligned, so a direct-I/O writer can hand them to the kernel without a
// copy.
type output struct {
	w       io.Writer
	sum     hash.Hash
	cur     []byte
	written int64 // bytes handed to the writer goroutine or in cur

	free, full, hashed chan []byte
	wg                 sync.WaitGroup
	mu                 sync.Mutex
	err                error

	hooks *applyHooks
}

// newOutput prepares the output of a target of targetLen bytes.
func newOutput(w io.Writer, hooks *applyHooks, targetLen int64) *output {
	o := &output{w: w, sum: sha256.New(), hooks: hooks, free: make(chan []byte, outBufs), full: make(chan []byte, outBufs), hashed: make(chan []byte, outBufs)}
	size := outBufSize(targetLen)
	for i := 0; i < outBufs; i++ {
		o.free <- directio.AlignedBuffer(size)[:0]
	}
	o.cur = <-o.free
	o.wg.Add(2)
	go o.hash(o.full, o.hashed)
	go o.write(o.hashed)
	return o
}

// outBufSize is the size of the output buffers for a target of targetLen
// bytes: a third of it, so that the three still overlap rebuilding,
// hashing and writing, rounded up to whole shuffle blocks (a block must
// never straddle two buffers), and at most outBuf. A 1 MiB target then
// allocates 1.1 MiB of buffers instead of 3.
func outBufSize(targetLen int64) int {
	per := (max(targetLen, 1) + outBufs - 1) / outBufs
	return int(min(outBuf, (per+ShuffleBlock-1)/ShuffleBlock*ShuffleBlock))
}

// hash and write pass every buffer on whatever happens, so that the
// goroutine filling them never waits for ever: after a failure (a write
// error, or a panic they recovered) they only stop hashing and writing.
func (o *output) hash(full <-chan []byte, hashed chan<- []byte) {
	defer o.wg.Done()
	defer close(hashed)
	for b := range full {
		if o.failed() == nil {
			o.guard("hashing the target", func() {
				if o.hooks.hash != nil {
					o.hooks.hash()
				}
				o.sum.Write(b)
			})
		}
		hashed <- b
	}
}

func (o *output) write(hashed <-chan []byte) {
	defer o.wg.Done()
	for b := range hashed {
		if o.failed() == nil {
			o.guard("writing the target", func() {
				if o.hooks.write != nil {
					o.hooks.write()
				}
				if _, err := o.w.Write(b); err != nil {
					o.fail(err)
				}
			})
		}
		o.free <- b[:0]
	}
}

// guard runs f, recording a panic in it as the output's error.
func (o *output) guard(stage string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			o.fail(panicErr(stage, r))
		}
	}()
	f()
}

// fail records the first error.
func (o *output) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = err
	}
}

func (o *output) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// buf returns room for up to n more bytes at the end of the current
// buffer (at least 1), switching buffers when the current one is full.
func (o *output) buf(n int) ([]byte, error) {
	if len(o.cur) == cap(o.cur) {
		if err := o.failed(); err != nil {
			return nil, err
		}
		o.full <- o.cur
		o.cur = <-o.free
	}
	room := cap(o.cur) - len(o.cur)
	return o.cur[len(o.cur) : len(o.cur)+min(n, room)], nil
}

// commit marks n bytes of the slice buf returned as written.
func (o *output) commit(n int) {
	o.cur = o.cur[:len(o.cur)+n]
	o.written += int64(n)
}

// close writes what is left and stops the goroutine; it returns the first
// write error.
func (o *output) close() error {
	if len(o.cur) > 0 {
		o.full <- o.cur
		o.cur = nil
	}
	close(o.full)
	o.full = nil
	o.wg.Wait()
	return o.failed()
}

// abort stops the goroutine without writing what is left.
func (o *output) abort() {
	if o.full != nil {
		o.cur = nil
		close(o.full)
		o.wg.Wait()
		o.full = nil
	}
}
