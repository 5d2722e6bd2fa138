package patchstat

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

type failAfter struct{ left int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		n := f.left
		f.left = 0
		return n, errors.New("full")
	}
	f.left -= len(p)
	return len(p), nil
}

// TestWriterCountsWhatWasWritten: the count is the bytes the underlying
// writer took, also when it fails part way.
func TestWriterCountsWhatWasWritten(t *testing.T) {
	var buf bytes.Buffer
	w := &Writer{W: &buf}
	w.Write([]byte("hello "))
	w.Write([]byte("world"))
	if w.N != 11 || buf.String() != "hello world" {
		t.Fatalf("N %d, wrote %q", w.N, buf.String())
	}
	short := &Writer{W: &failAfter{left: 3}}
	if n, err := short.Write([]byte("hello")); n != 3 || err == nil || short.N != 3 {
		t.Fatalf("short write: n %d, err %v, N %d; want 3, an error, 3", n, err, short.N)
	}
}

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		part, whole int64
		want        float64
	}{{0, 0, 0}, {5, 0, 0}, {5, -1, 0}, {1, 3, 33.3}, {2, 3, 66.7}, {1, 1000, 0.1}, {1, 2000, 0.1}, {1, 3000, 0}, {3, 2, 150}} {
		if got := Percent(c.part, c.whole); got != c.want {
			t.Errorf("Percent(%d, %d) = %v, want %v", c.part, c.whole, got, c.want)
		}
	}
}

// TestReaderAtCountsWhatWasRead: every byte read is counted and reported,
// at any offset.
func TestReaderAtCountsWhatWasRead(t *testing.T) {
	var seen []int64
	c := &ReaderAt{R: strings.NewReader("hello world"), Each: func(n int64) { seen = append(seen, n) }}
	buf := make([]byte, 5)
	c.ReadAt(buf, 6)
	c.ReadAt(buf, 0)
	if n, err := c.ReadAt(buf, 9); n != 2 || err != io.EOF {
		t.Fatalf("short read: %d, %v", n, err)
	}
	if want := []int64{5, 10, 12}; !reflect.DeepEqual(seen, want) {
		t.Errorf("counts %v, want %v", seen, want)
	}
}
