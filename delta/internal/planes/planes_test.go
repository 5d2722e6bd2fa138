package planes

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// combineRef is the byte-at-a-time definition: word i of the target is
// the little-endian word of width w made of byte i of each plane of src,
// combined with word i of out by op.
func combineRef(out, src []byte, op Op, w int) {
	n := len(out) / w
	for i := 0; i < n; i++ {
		var z, v uint64
		for b := 0; b < w; b++ {
			z |= uint64(src[b*n+i]) << (8 * b)
			v |= uint64(out[i*w+b]) << (8 * b)
		}
		switch op {
		case Insert:
			v = z
		case XOR:
			v ^= z
		case Sub:
			mask := uint64(1)<<(8*w) - 1
			v += z>>1 ^ (-(z & 1) & mask)
		}
		for b := 0; b < w; b++ {
			out[i*w+b] = byte(v >> (8 * b))
		}
	}
}

func combine(out, src []byte, op Op, w int) {
	n := len(out) / w
	switch w {
	case 1:
		Bytes(out, src, op)
	case 2:
		Words2(out, src[:n], src[n:2*n], op)
	case 4:
		Words4(out, src[:n], src[n:2*n], src[2*n:3*n], src[3*n:4*n], op)
	}
}

// Every op and width, at lengths around the 8-word steps, on random bytes
// and on the extremes (all zero, all ones: carries and borrows across
// every lane).
func TestPlanesMatchTheDefinition(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	fills := map[string]func() byte{"random": func() byte { return byte(r.Uint32()) }, "zero": func() byte { return 0 }, "ones": func() byte { return 0xff }}
	for _, w := range []int{1, 2, 4} {
		for _, op := range []Op{Insert, XOR, Sub} {
			for _, words := range []int{0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 16384} {
				for fname, fill := range fills {
					base, src := make([]byte, words*w), make([]byte, words*w)
					for i := range base {
						base[i], src[i] = byte(r.Uint32()), fill()
					}
					if fname != "random" {
						for i := range base {
							base[i] = fill()
						}
					}
					got, want := bytes.Clone(base), bytes.Clone(base)
					combine(got, src, op, w)
					combineRef(want, src, op, w)
					if !bytes.Equal(got, want) {
						t.Fatalf("width %d op %d, %d words of %s: differs from the definition", w, op, words, fname)
					}
				}
			}
		}
	}
}

// combineGeneric is combine with the Go code alone: the reference for the
// assembly (with the purego tag, combine is this too).
func combineGeneric(out, src []byte, op Op, w int) {
	n := len(out) / w
	switch {
	case w == 1 && op == Insert:
		copy(out, src)
	case w == 1:
		bytesGeneric(out, src, op)
	case w == 2:
		words2Generic(out, src[:n], src[n:2*n], op)
	case w == 4:
		words4Generic(out, src[:n], src[n:2*n], src[2*n:3*n], src[3*n:4*n], op)
	}
}

var ops = []Op{Insert, XOR, Sub}

// checkAgainstGeneric runs combine and combineGeneric on the same words
// of out at byte offset off (the planes taken from src at off too, so
// that neither is aligned) and fails if they differ, or if either wrote
// outside those words.
func checkAgainstGeneric(t *testing.T, base, src []byte, op Op, w, words, off int) {
	t.Helper()
	got, want := bytes.Clone(base), bytes.Clone(base)
	end := off + words*w
	combine(got[off:end], src[off:end], op, w)
	combineGeneric(want[off:end], src[off:end], op, w)
	if !bytes.Equal(got, want) {
		t.Fatalf("width %d op %d, %d words at offset %d: differs from the generic code", w, op, words, off)
	}
	if !bytes.Equal(got[:off], base[:off]) || !bytes.Equal(got[end:], base[end:]) {
		t.Fatalf("width %d op %d, %d words at offset %d: wrote outside its words", w, op, words, off)
	}
}

// The assembly (16 words a step) and the Go tail against the generic code
// for every op and width, every length of 0 to 300 words and several
// offsets, on random bytes and on all ones (every zigzag sign and carry).
func TestVectorMatchesGeneric(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	const maxWords, pad = 300, 64 // pad: one 64-byte output step, so that an overrun by a step shows
	base, random, ones := make([]byte, 4*maxWords+2*pad), make([]byte, 4*maxWords+2*pad), bytes.Repeat([]byte{0xff}, 4*maxWords+2*pad)
	for i := range base {
		base[i], random[i] = byte(r.Uint32()), byte(r.Uint32())
	}
	for _, w := range []int{1, 2, 4} {
		for _, op := range ops {
			for words := 0; words <= maxWords; words++ {
				for _, off := range []int{0, 1, 3, 8} {
					checkAgainstGeneric(t, base, random, op, w, words, off)
					checkAgainstGeneric(t, ones, ones, op, w, words, off)
				}
			}
		}
	}
}

// FuzzWords compares combine with the generic code and the definition on
// any bytes, width, op, length and offset.
func FuzzWords(f *testing.F) {
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz"), uint8(2), uint8(2), uint8(1))
	f.Add(bytes.Repeat([]byte{0xff, 0x01}, 80), uint8(4), uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, width, op, off uint8) {
		w := [...]int{1, 2, 4}[width%3]
		o := ops[op%3]
		half := len(data) / 2
		base, src := data[:half], data[half:2*half]
		at := min(int(off%16), half)
		words := (half - at) / w
		checkAgainstGeneric(t, base, src, o, w, words, at)
		got, want := bytes.Clone(base[at:at+words*w]), bytes.Clone(base[at:at+words*w])
		combine(got, src[at:at+words*w], o, w)
		combineRef(want, src[at:at+words*w], o, w)
		if !bytes.Equal(got, want) {
			t.Fatalf("width %d op %d, %d words: differs from the definition", w, o, words)
		}
	})
}

// BenchmarkBytes, BenchmarkWords2 and BenchmarkWords4 combine a 64 KiB
// piece (Apply's pieces are at most a shuffle block) per op, with the
// package's code ("package": the assembly where there is some, then Go)
// and with the generic Go code alone ("generic").
func BenchmarkBytes(b *testing.B)  { benchmarkWidth(b, 1) }
func BenchmarkWords2(b *testing.B) { benchmarkWidth(b, 2) }
func BenchmarkWords4(b *testing.B) { benchmarkWidth(b, 4) }

func benchmarkWidth(b *testing.B, w int) {
	src, out := make([]byte, 64<<10), make([]byte, 64<<10)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for _, op := range ops {
		for _, impl := range []struct {
			name string
			f    func([]byte, []byte, Op, int)
		}{{"package", combine}, {"generic", combineGeneric}} {
			b.Run(fmt.Sprintf("%s/%s", [...]string{"insert", "xor", "sub"}[op], impl.name), func(b *testing.B) {
				b.SetBytes(int64(len(out)))
				for range b.N {
					impl.f(out, src, op, w)
				}
			})
		}
	}
}
