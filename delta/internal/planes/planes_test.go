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

func BenchmarkPlanes(b *testing.B) {
	src, out := make([]byte, 64<<10), make([]byte, 64<<10)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for _, w := range []int{1, 2, 4} {
		for _, op := range []Op{Insert, XOR, Sub} {
			b.Run(fmt.Sprintf("w%d-op%d", w, op), func(b *testing.B) {
				b.SetBytes(int64(len(out)))
				for range b.N {
					combine(out, src, op, w)
				}
			})
		}
	}
}
