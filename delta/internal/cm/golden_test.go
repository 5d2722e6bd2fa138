package cm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/bits"
	"testing"
)

// goldenCoding is the SHA-256 of the codings of goldenBlocks, made by
// the model as it was first published (before the decoder was made
// faster): any change to the model's arithmetic, contexts, hashes,
// table sizes or update rules changes the coded bytes, and with them
// every patch in the field.
const goldenCoding = "38c4809c9e4850fd5ab92b5b9f29c3a9ddcf1be343f611256a0a49d2c79a4962"

// goldenRand is splitmix64, written out so that the input does not
// depend on a library's generator.
type goldenRand uint64

func (r *goldenRand) next() uint64 {
	*r += 0x9E3779B97F4A7C15
	z := uint64(*r)
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// fp16 returns a half float of about normal magnitude 2^-scale, in
// integers only: the sum of four uniform 16-bit numbers, centred.
func (r *goldenRand) fp16(scale int) uint16 {
	v := r.next()
	x := int64(v&0xffff) + int64(v>>16&0xffff) + int64(v>>32&0xffff) + int64(v>>48) - 2*0xffff
	var sign uint16
	if x < 0 {
		sign, x = 0x8000, -x
	}
	if x == 0 {
		return sign
	}
	l := bits.Len64(uint64(x)) // 1 .. 18
	mant := uint16(x<<11>>l) & 0x3ff
	exp := min(max(l+15-18-scale, 1), 30)
	return sign | uint16(exp)<<10 | mant
}

// goldenBlocks returns the blocks of the golden input, a block being
// its bytes and its spans: fp16 weights split into their two byte
// planes (siblings of the same length), fp32-like weights in four
// planes, text-like bytes, and spans of odd lengths of every class.
func goldenBlocks() [][]goldenSpan {
	r := goldenRand(17)
	var blocks [][]goldenSpan
	// Three blocks of fp16 planes, tensors of drifting scale.
	for b := 0; b < 3; b++ {
		var blk []goldenSpan
		for t := 0; t < 4; t++ {
			n := 8000 + int(r.next()%24000)
			scale := int(r.next() % 6)
			lo, hi := make([]byte, n), make([]byte, n)
			for i := range lo {
				v := r.fp16(scale)
				lo[i], hi[i] = byte(v), byte(v>>8)
			}
			blk = append(blk, goldenSpan{lo, 0}, goldenSpan{hi, 1})
		}
		blocks = append(blocks, blk)
	}
	// fp32-like weights: the fp16's bytes with two low mantissa bytes.
	var blk []goldenSpan
	for t := 0; t < 3; t++ {
		n := 10000 + int(r.next()%5000)
		pl := [4][]byte{make([]byte, n), make([]byte, n), make([]byte, n), make([]byte, n)}
		for i := 0; i < n; i++ {
			v, w := r.fp16(t), r.next()
			pl[0][i], pl[1][i], pl[2][i], pl[3][i] = byte(w), byte(w>>8)&0xe0, byte(v), byte(v>>8)
		}
		for c := range pl {
			blk = append(blk, goldenSpan{pl[c], uint8(2 + c)})
		}
	}
	blocks = append(blocks, blk)
	// Text: words of a small vocabulary, common ones more often.
	words := []string{"the", "model", "weights", "of", "a", "tensor", "and", "delta", "patch", "layer",
		"conv2d", "bias", "float16", "input", "output", "scale", "zero_point", "to", "in", "quantized"}
	for b := 0; b < 2; b++ {
		var text []byte
		for len(text) < 90000 {
			w := words[bits.Len64(r.next()>>45)]
			text = append(text, w...)
			switch r.next() % 16 {
			case 0:
				text = append(text, ".\n"...)
			case 1:
				text = append(text, ", "...)
			default:
				text = append(text, ' ')
			}
		}
		blocks = append(blocks, []goldenSpan{{text, 6}})
	}
	// Odd spans of every class, lengths not matching their neighbours.
	var odd []goldenSpan
	for c := 0; c < Classes; c++ {
		s := make([]byte, 1+int(r.next()%3000))
		for i := range s {
			s[i] = byte(r.next() % uint64(2+c*36))
		}
		odd = append(odd, goldenSpan{s, uint8(c)})
	}
	return append(blocks, odd)
}

// goldenSpan is a span with its bytes.
type goldenSpan struct {
	Raw   []byte
	Class uint8
}

// TestGolden codes the golden input block after block, the model
// carried over, one block coded twice and taken back with Undo, and
// compares the codings' SHA-256 with goldenCoding; every block decodes
// back.
func TestGolden(t *testing.T) {
	t.Parallel()
	blocks := goldenBlocks()
	e, d := NewEncoder(), NewDecoder()
	h := sha256.New()
	total := 0
	for i, blk := range blocks {
		var spans []Span
		var raw []byte
		for _, s := range blk {
			spans = append(spans, Span{s.Class, len(s.Raw)})
			raw = append(raw, s.Raw...)
		}
		total += len(raw)
		if i == 2 {
			// Coded, then taken back: the next coding starts from the
			// model before it.
			encode(e, raw, spans)
			e.Undo()
		}
		enc := encode(e, raw, spans)
		h.Write(enc)
		t.Logf("block %d: %d bytes coded in %d", i, len(raw), len(enc))
		out := make([]byte, len(raw))
		if err := decode(d, out, enc, spans); err != nil || !bytes.Equal(out, raw) {
			t.Fatalf("block %d: decoding %v or differs", i, err)
		}
	}
	if total < 400<<10 {
		t.Fatalf("golden input of %d bytes, want at least 400 KiB", total)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != goldenCoding {
		t.Errorf("codings' SHA-256 %s, want %s", got, goldenCoding)
	}
}
