package directio

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"unsafe"
)

func TestAlignedBuffer(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, Align, 1 << 20, 3*Align + 7} {
		b := AlignedBuffer(size)
		if len(b) != size || cap(b) != size {
			t.Fatalf("size %d: len %d cap %d", size, len(b), cap(b))
		}
		if uintptr(unsafe.Pointer(&b[0]))%Align != 0 {
			t.Fatalf("size %d: not aligned", size)
		}
	}
}

// Whatever the sizes and alignment of the writes, the file holds exactly
// the bytes written, in order, with direct I/O or without it.
func TestWriterContent(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(7))
	data := make([]byte, 5<<20+123)
	rng.Read(data)
	cases := map[string][]int{
		"aligned 1MiB chunks then tail": {1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 123},
		"odd chunks":                    {1, 4095, 4097, 1<<20 + 3, 77, 3 << 20, 1<<20 - 2},
		"one write":                     {len(data)},
		"tiny file":                     {},
	}
	for name, chunks := range cases {
		t.Run(name, func(t *testing.T) {
			want := data
			if len(chunks) == 0 {
				want = data[:10]
				chunks = []int{10}
			}
			path := filepath.Join(t.TempDir(), "f")
			plain, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Close()
			w := Open(path, plain, 0)
			if w == nil {
				t.Skip("no direct I/O on this filesystem")
			}
			buf := AlignedBuffer(len(want))
			copy(buf, want)
			off := 0
			for _, n := range chunks {
				if off+n > len(want) {
					n = len(want) - off
				}
				if _, err := w.Write(buf[off : off+n]); err != nil {
					t.Fatal(err)
				}
				off += n
			}
			if off != len(want) {
				t.Fatalf("test wrote %d of %d", off, len(want))
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("content differs (len %d vs %d), err %v", len(got), len(want), err)
			}
		})
	}
}

type failAt struct{}

func (failAt) WriteAt(p []byte, off int64) (int, error) { return 0, os.ErrPermission }

func TestWriterTailError(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	f, _ := os.Create(path)
	defer f.Close()
	w := Open(path, failAt{}, 0)
	if w == nil {
		t.Skip("no direct I/O on this filesystem")
	}
	w.Write(make([]byte, 10))
	if err := w.Close(); err == nil {
		t.Fatal("a failing tail write was not reported")
	}
}

// Resuming at an offset that is not a block boundary: the bytes before the
// offset stay, the rest lands after them.
func TestWriterFromOffset(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(9))
	data := make([]byte, 3<<20+5)
	rng.Read(data)
	for _, off := range []int{0, 1, 4095, 4096, 4097, 1 << 20, 3<<20 + 4} {
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, data[:off], 0o600); err != nil {
			t.Fatal(err)
		}
		plain, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		w := Open(path, plain, int64(off))
		if w == nil {
			t.Skip("no direct I/O on this filesystem")
		}
		buf := AlignedBuffer(1 << 20)
		for rest := data[off:]; len(rest) > 0; {
			n := copy(buf, rest)
			if _, err := w.Write(buf[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		plain.Close()
		got, _ := os.ReadFile(path)
		if !bytes.Equal(got, data) {
			t.Fatalf("offset %d: content differs", off)
		}
	}
}

// AddSpareProc adds one P, unless the environment sets GOMAXPROCS, whose
// value then stands. Not parallel: GOMAXPROCS is the process's.
func TestAddSpareProc(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)

	t.Setenv("GOMAXPROCS", "")
	if got := AddSpareProc(); got != before+1 || runtime.GOMAXPROCS(0) != before+1 {
		t.Fatalf("AddSpareProc = %d, GOMAXPROCS %d; want %d", got, runtime.GOMAXPROCS(0), before+1)
	}
	runtime.GOMAXPROCS(before)

	t.Setenv("GOMAXPROCS", strconv.Itoa(before))
	if got := AddSpareProc(); got != before || runtime.GOMAXPROCS(0) != before {
		t.Fatalf("with GOMAXPROCS set: AddSpareProc = %d, GOMAXPROCS %d; want %d", got, runtime.GOMAXPROCS(0), before)
	}
}
