package delta

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// chunkyReader returns what it reads in pieces of random sizes, like a
// decompressor does, then err (io.EOF if nil).
type chunkyReader struct {
	data []byte
	r    *rand.Rand
	err  error
}

func (c *chunkyReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.r.IntN(300<<10))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// The buffers are sized by the target length; a stream far longer than
// they hold (as a hostile patch can declare) is delivered all the same.
func TestReadAheadDeliversTheStream(t *testing.T) {
	t.Parallel()
	for _, target := range []int64{0, 1, 4095, 4096, 1 << 20, 64 << 20} {
		t.Run(fmt.Sprint(target), func(t *testing.T) { testReadAheadDelivers(t, target) })
	}
}

func testReadAheadDelivers(t *testing.T, target int64) {
	r := rand.New(rand.NewPCG(1, 2))
	src := randomBytes(3<<20 + 12345)
	ra := newReadAhead(nil, target)
	if size := len(ra.bufs[0]); size < 4096 || size > raBuf || size%4096 != 0 {
		t.Fatalf("target %d: buffers of %d bytes", target, size)
	}
	defer ra.stop()
	ra.start(&chunkyReader{data: src, r: rand.New(rand.NewPCG(11, 12))})
	var got []byte
	tmp := make([]byte, ShuffleBlock)
	for {
		// Mix next (in place or gathered across buffers) and Read.
		n := 1 + r.IntN(ShuffleBlock)
		if r.IntN(4) == 0 {
			m, err := ra.Read(tmp[:n])
			got = append(got, tmp[:m]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if rest := len(src) - len(got); rest < n {
			n = rest
		}
		if n == 0 {
			if _, err := ra.next(1, tmp); err != io.EOF {
				t.Fatalf("next at the end: %v, want io.EOF", err)
			}
			break
		}
		b, err := ra.next(n, tmp)
		if err != nil {
			t.Fatalf("next(%d) at %d: %v", n, len(got), err)
		}
		if len(b) != n {
			t.Fatalf("next(%d) returned %d bytes", n, len(b))
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("read %d bytes that differ from the %d-byte stream", len(got), len(src))
	}
}

func TestReadAheadPassesErrorsOn(t *testing.T) {
	t.Parallel()
	boom := errors.New("corrupt frame")
	src := randomBytes(1<<20 + 7)
	ra := newReadAhead(nil, 64<<20)
	defer ra.stop()
	ra.start(&chunkyReader{data: src, r: rand.New(rand.NewPCG(3, 4)), err: boom})
	got, err := io.ReadAll(ra)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the stream's own", err)
	}
	if !bytes.Equal(got, src) {
		t.Fatal("the bytes before the error were not all delivered")
	}
	// A next that needs more than is left gets the error too.
	ra.start(&chunkyReader{data: src[:100], r: rand.New(rand.NewPCG(5, 6)), err: boom})
	if _, err := ra.next(101, make([]byte, 101)); !errors.Is(err, boom) {
		t.Fatalf("next past the data: %v, want the stream's error", err)
	}
}

// A segment that fails half way leaves its stream unread; the next start
// must deliver only the new stream, through the same buffers.
func TestReadAheadRestartsClean(t *testing.T) {
	t.Parallel()
	ra := newReadAhead(nil, 64<<20)
	defer ra.stop()
	first := bytes.Repeat([]byte{0xAA}, 4<<20)
	ra.start(&chunkyReader{data: first, r: rand.New(rand.NewPCG(7, 8))})
	if _, err := ra.next(1000, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	second := randomBytes(2<<20 + 3)
	ra.start(&chunkyReader{data: second, r: rand.New(rand.NewPCG(9, 10))})
	got, err := io.ReadAll(ra)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, second) {
		t.Fatalf("after a restart: %d bytes that are not the new stream's", len(got))
	}
}

// exclusiveReaderAt fails any ReadAt that starts while another is running,
// as a reader with a seek position (afero's in-memory files) would go
// wrong.
type exclusiveReaderAt struct {
	r       io.ReaderAt
	busy    atomic.Int32
	overlap atomic.Bool
}

func (e *exclusiveReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if !e.busy.CompareAndSwap(0, 1) {
		e.overlap.Store(true)
		return 0, errors.New("concurrent ReadAt")
	}
	defer e.busy.Store(0)
	time.Sleep(100 * time.Microsecond) // widen the window
	return e.r.ReadAt(p, off)
}

func TestApplySerializesPatchReads(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(21, 22))
	base := floats(r, 1<<20) // 4 MiB
	target := bytes.Clone(base)
	for i := 0; i < len(target); i += 4096 {
		target[i] ^= 1 // every page changed a little: diff stream
	}
	copy(target[len(target)-256<<10:], randomBytes(256<<10)) // extra stream
	var patch bytes.Buffer
	if _, err := Diff(bytes.NewReader(base), int64(len(base)), bytes.NewReader(target), int64(len(target)), &patch, Options{}); err != nil {
		t.Fatal(err)
	}
	pr := &exclusiveReaderAt{r: bytes.NewReader(patch.Bytes())}
	var out bytes.Buffer
	if _, err := Apply(bytes.NewReader(base), int64(len(base)), pr, int64(patch.Len()), &out, Limits{}); err != nil {
		t.Fatalf("apply: %v (overlapping reads: %v)", err, pr.overlap.Load())
	}
	if !bytes.Equal(out.Bytes(), target) {
		t.Fatal("wrong output")
	}
}
