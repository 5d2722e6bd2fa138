package hashcopy

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand"
	"testing"
)

func TestCopySizes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	for _, size := range []int{0, 1, BufferSize - 1, BufferSize, BufferSize + 1, 5*BufferSize + 17} {
		data := make([]byte, size)
		rng.Read(data)
		var out bytes.Buffer
		var last int64
		n, sum, err := Copy(&out, bytes.NewReader(data), -1, func(d int64) { last = d })
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if n != int64(size) || !bytes.Equal(out.Bytes(), data) || sum != sha256.Sum256(data) {
			t.Fatalf("size %d: copied %d bytes, content or hash differs", size, n)
		}
		if size > 0 && last != int64(size) {
			t.Fatalf("size %d: progress ended at %d", size, last)
		}
	}
}

func TestCopyLimit(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("x"), 3*BufferSize)
	for _, limit := range []int64{0, 10, BufferSize, 3*BufferSize - 1} {
		var out bytes.Buffer
		n, _, err := Copy(&out, bytes.NewReader(data), limit, nil)
		if !errors.Is(err, ErrTooLong) {
			t.Fatalf("limit %d: err = %v, want ErrTooLong", limit, err)
		}
		if n != limit || int64(out.Len()) != limit {
			t.Fatalf("limit %d: wrote %d (n=%d), want exactly the limit", limit, out.Len(), n)
		}
	}
	// Exactly at the limit is fine.
	var out bytes.Buffer
	if _, _, err := Copy(&out, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatalf("at limit: %v", err)
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("disk full")
	}
	w.after--
	return len(p), nil
}

func TestCopyWriteError(t *testing.T) {
	t.Parallel()
	data := make([]byte, 8*BufferSize)
	_, _, err := Copy(&failWriter{after: 2}, bytes.NewReader(data), -1, nil)
	if err == nil || err.Error() != "disk full" {
		t.Fatalf("err = %v, want disk full", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestCopyReadError(t *testing.T) {
	t.Parallel()
	_, _, err := Copy(io.Discard, io.MultiReader(bytes.NewReader(make([]byte, 100)), errReader{}), -1, nil)
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("err = %v", err)
	}
}

func TestCopyFromPrefix(t *testing.T) {
	t.Parallel()
	data := []byte("hello, resumable world")
	h := sha256.New()
	h.Write(data[:7])
	var out bytes.Buffer
	n, sum, err := CopyFrom(&out, bytes.NewReader(data[7:]), -1, h, nil)
	if err != nil || n != int64(len(data)-7) || sum != sha256.Sum256(data) {
		t.Fatalf("n=%d err=%v sum mismatch=%v", n, err, sum != sha256.Sum256(data))
	}
}

func BenchmarkCopy(b *testing.B) {
	data := make([]byte, 64<<20)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		Copy(io.Discard, bytes.NewReader(data), -1, nil)
	}
}

// sizeRecorder keeps what is written to it and the size of each write.
type sizeRecorder struct {
	bytes.Buffer
	sizes []int
}

func (r *sizeRecorder) Write(p []byte) (int, error) {
	r.sizes = append(r.sizes, len(p))
	return r.Buffer.Write(p)
}

// Whatever the sizes of the writes, the destination gets exactly the bytes
// written, in order, in BufferSize writes but the last.
func TestWriterContent(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(2))
	for _, chunks := range [][]int{
		{1, 65536 + 16, 3*BufferSize + 5, 7, BufferSize},
		{BufferSize, BufferSize},
		{10},
		{},
	} {
		var want []byte
		dst := &sizeRecorder{}
		w := NewWriter(dst)
		for _, n := range chunks {
			p := make([]byte, n)
			rng.Read(p)
			want = append(want, p...)
			if m, err := w.Write(p); m != n || err != nil {
				t.Fatalf("chunks %v: Write = %d, %v", chunks, m, err)
			}
		}
		sum, err := w.CloseSum()
		if err != nil {
			t.Fatalf("chunks %v: Close: %v", chunks, err)
		}
		if wantSum := sha256.Sum256(want); !bytes.Equal(sum, wantSum[:]) {
			t.Fatalf("chunks %v: SHA-256 %x, want %x", chunks, sum, wantSum)
		}
		if !bytes.Equal(dst.Bytes(), want) {
			t.Fatalf("chunks %v: %d bytes arrived, want %d", chunks, dst.Len(), len(want))
		}
		for i, n := range dst.sizes {
			if n != BufferSize && i != len(dst.sizes)-1 || n > BufferSize {
				t.Fatalf("chunks %v: write %d of %d is %d bytes", chunks, i, len(dst.sizes), n)
			}
		}
		if _, err := w.Write([]byte{1}); err == nil {
			t.Fatalf("chunks %v: a write after Close succeeded", chunks)
		}
	}
}

// The destination's first error stops the writes: a later Write or Close
// returns it, and nothing is written after it.
func TestWriterError(t *testing.T) {
	t.Parallel()
	dst := &failWriter{after: 2}
	w := NewWriter(dst)
	var err error
	p := make([]byte, BufferSize/2+1)
	for i := 0; i < 100 && err == nil; i++ {
		_, err = w.Write(p)
	}
	if err == nil || err.Error() != "disk full" {
		t.Fatalf("Write err = %v, want disk full", err)
	}
	if err := w.Close(); err == nil || err.Error() != "disk full" {
		t.Fatalf("Close err = %v, want disk full", err)
	}
	if _, err := w.CloseSum(); err == nil || err.Error() != "disk full" {
		t.Fatalf("second Close err = %v, want disk full", err)
	}
}
