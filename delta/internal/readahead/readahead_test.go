package readahead

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
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
	ra := New(target, nil, nil)
	if size := len(ra.bufs[0]); size < 4096 || size > BufSize || size%4096 != 0 {
		t.Fatalf("target %d: buffers of %d bytes", target, size)
	}
	defer ra.Stop()
	ra.Start(&chunkyReader{data: src, r: rand.New(rand.NewPCG(11, 12))})
	var got []byte
	tmp := make([]byte, shuffleBlock)
	for {
		// Mix next (in place or gathered across buffers) and Read.
		n := 1 + r.IntN(shuffleBlock)
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
			if _, err := ra.Next(1, tmp); err != io.EOF {
				t.Fatalf("next at the end: %v, want io.EOF", err)
			}
			break
		}
		b, err := ra.Next(n, tmp)
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
	ra := New(64<<20, nil, nil)
	defer ra.Stop()
	ra.Start(&chunkyReader{data: src, r: rand.New(rand.NewPCG(3, 4)), err: boom})
	got, err := io.ReadAll(ra)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the stream's own", err)
	}
	if !bytes.Equal(got, src) {
		t.Fatal("the bytes before the error were not all delivered")
	}
	// A next that needs more than is left gets the error too.
	ra.Start(&chunkyReader{data: src[:100], r: rand.New(rand.NewPCG(5, 6)), err: boom})
	if _, err := ra.Next(101, make([]byte, 101)); !errors.Is(err, boom) {
		t.Fatalf("next past the data: %v, want the stream's error", err)
	}
}

// A segment that fails half way leaves its stream unread; the next start
// must deliver only the new stream, through the same buffers.
func TestReadAheadRestartsClean(t *testing.T) {
	t.Parallel()
	ra := New(64<<20, nil, nil)
	defer ra.Stop()
	first := bytes.Repeat([]byte{0xAA}, 4<<20)
	ra.Start(&chunkyReader{data: first, r: rand.New(rand.NewPCG(7, 8))})
	if _, err := ra.Next(1000, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	second := randomBytes(2<<20 + 3)
	ra.Start(&chunkyReader{data: second, r: rand.New(rand.NewPCG(9, 10))})
	got, err := io.ReadAll(ra)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, second) {
		t.Fatalf("after a restart: %d bytes that are not the new stream's", len(got))
	}
}

// shuffleBlock is package delta's ShuffleBlock: the most bytes Apply asks
// Next for at a time.
const shuffleBlock = 64 << 10

// randomBytes returns n bytes of a fixed ChaCha8 stream.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)}).Read(b)
	return b
}
