package fseblock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// exponentWalk is a high-byte plane of weights whose magnitudes change
// slowly (consecutive weights of a channel have similar exponents): a
// sign bit, an exponent that moves by at most one step from the byte
// before, and two random mantissa bits.
func exponentWalk(r *rand.Rand, n int) []byte {
	out := make([]byte, n)
	e := 14
	for i := range out {
		e = min(max(e+r.IntN(3)-1, 4), 28)
		out[i] = byte(r.IntN(2))<<7 | byte(e)<<2 | byte(r.IntN(4))
	}
	return out
}

// TestContextBeatsOrder0: a plane whose bytes depend on the byte before
// is Context coded, round trips, and codes well below one order-0 table
// per block; bytes that do not depend on it (random, or order-0 skewed)
// are not Context coded.
func TestContextBeatsOrder0(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	walk := exponentWalk(r, 600_000)
	var e Encoder
	order0 := 0
	for p := 0; p < len(walk); p += MaxBlock {
		order0 += len(e.appendPlain(nil, walk[p:min(len(walk), p+MaxBlock)]))
	}
	enc := e.AppendBlocks(nil, walk, nil)
	t.Logf("order 0: %d, context: %d (of %d)", order0, len(enc), len(walk))
	if m := firstMode(enc); m != Context {
		t.Fatalf("mode %d, want Context", m)
	}
	if float64(len(enc)) > 0.85*float64(order0) {
		t.Errorf("context coding %d bytes, order 0 %d: expected at least 15%% smaller", len(enc), order0)
	}
	for _, into := range []bool{false, true} {
		if got, err := decodeAll(t, enc, into); err != nil || !bytes.Equal(got, walk) {
			t.Fatalf("round trip (into %v) differs: %v", into, err)
		}
	}
	// Within a Planes block, as the delta streams hold weight planes.
	spans := []Span{{0, 100_000}, {1, 100_000}}
	mixed := append(append([]byte{}, walk[:100_000]...), make([]byte, 100_000)...)
	for i := 100_000; i < len(mixed); i++ {
		mixed[i] = byte(r.Uint32())
	}
	enc = e.AppendBlocks(nil, mixed, spans)
	if m := firstMode(enc); m != Planes {
		t.Fatalf("mixed planes: mode %d, want Planes", m)
	}
	if got, err := decodeAll(t, enc, false); err != nil || !bytes.Equal(got, mixed) {
		t.Fatalf("mixed planes: round trip differs: %v", err)
	}
	if !bytes.Contains(enc[HeaderLen:HeaderLen+40], []byte{Context}) {
		t.Errorf("mixed planes: no Context class block in % x", enc[:40])
	}
}

// contextData builds a Context block's data by hand: k buckets, the
// bucket of every previous byte given by bucketOf, the lane counts, then
// the sub-blocks.
func contextData(k byte, bucketOf func(v int) byte, counts []uint64, subs ...[]byte) []byte {
	b := []byte{k}
	for v := 0; v < 256; v += 2 {
		b = append(b, bucketOf(v)|bucketOf(v+1)<<4)
	}
	for _, c := range counts {
		b = binary.AppendUvarint(b, c)
	}
	for _, s := range subs {
		b = append(b, s...)
	}
	return b
}

// TestMalformedContextBlocks: every inconsistency in a Context block is
// refused with ErrFormat.
func TestMalformedContextBlocks(t *testing.T) {
	t.Parallel()
	// "abababab", in 4 lanes of "ab": the previous bytes are 0 and 'a':
	// bucket 1 for 'a' ('b' follows it), bucket 0 for the others.
	byA := func(v int) byte {
		if v == 'a' {
			return 1
		}
		return 0
	}
	ones := []uint64{1, 1, 1, 1, 1, 1}
	var d Decoder
	valid := contextData(2, byA, ones, stored("aaaa"), stored("bbbb"))
	if out, err := d.Decode(nil, Context, 8, valid); err != nil || string(out) != "abababab" {
		t.Fatalf("valid block: %q, %v", out, err)
	}
	walk := exponentWalk(rand.New(rand.NewPCG(9, 10)), 5000)
	packed := append(header(Packed, 8, 1+HeaderLen+1), append([]byte{1}, stored("\x55")...)...)
	zero := func(int) byte { return 0 }
	cases := []struct {
		name   string
		rawLen int
		data   []byte
	}{
		{"no bucket count", 8, []byte{}},
		{"one bucket", 8, contextData(1, zero, []uint64{2, 2, 2}, stored("abababab"))},
		{"too many buckets", 8, contextData(MaxBuckets+1, byA, ones, stored("aaaa"), stored("bbbb"))},
		{"map cut", 8, valid[:1+mapLen-1]},
		{"bucket out of range (even byte)", 8, contextData(2, func(v int) byte { return byte(v & 2) }, ones, stored("aaaa"), stored("bbbb"))},
		{"bucket out of range (odd byte)", 8, contextData(2, func(v int) byte { return byte(v&1) * 5 }, ones, stored("aaaa"), stored("bbbb"))},
		{"lane counts cut", 8, valid[:1+mapLen+3]},
		{"lane count past the block", 8, contextData(2, byA, []uint64{9, 1, 1, 1, 1, 1}, stored("aaaa"), stored("bbbb"))},
		{"lane counts past their bucket", 8, contextData(2, byA, []uint64{2, 2, 1, 1, 1, 1}, stored("aaaa"), stored("bbbb"))},
		{"a lane shorter than its contexts", 8, contextData(2, byA, []uint64{2, 1, 1, 1, 1, 1}, stored("aaaa"), stored("bbbb"))},
		{"buckets short of the block", 9, valid},
		{"buckets past the block", 7, valid},
		{"a bucket shorter than its contexts", 8, contextData(2, byA, ones, stored("aaa"), stored("bbbbb"))},
		{"a bucket never used", 8, contextData(3, byA, append(ones, 0, 0, 0), stored("aaaa"), stored("bbbb"), stored("c"))},
		{"empty bucket", 8, contextData(2, byA, ones, stored("aaaabbbb"), header(Stored, 0, 0))},
		{"bucket block cut", 8, contextData(2, byA, ones, stored("aaaa"), header(Stored, 4, 4), []byte("bb"))},
		{"bucket block missing", 8, contextData(2, byA, ones, stored("aaaa"))},
		{"bucket header cut", 8, contextData(2, byA, ones, stored("aaaa"), header(Stored, 4, 4)[:5])},
		{"bytes after the buckets", 8, append(contextData(2, byA, ones, stored("aaaa"), stored("bbbb")), 0)},
		{"nested packed", 9, contextData(2, zero, []uint64{0, 0, 0, 0, 0, 0}, packed, stored("x"))},
		{"nested context", 8, contextData(2, byA, ones, stored("aaaa"), append(header(Context, 4, len(valid)), valid...))},
		{"nested planes", 8, contextData(2, byA, ones, stored("aaaa"), append(header(Planes, 4, 11), planes(1, []Span{{0, 4}}, stored("bbbb"))...))},
		{"a bucket that does not decode", len(walk), contextData(2, zero, []uint64{0, 0, 0, 0, 0, 0}, header(FSE, len(walk)-1, 4), []byte{0xff, 0xff, 0xff, 0xff}, stored("x"))},
	}
	for _, c := range cases {
		out, err := d.Decode(nil, Context, c.rawLen, c.data)
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: got %d bytes, error %v; want ErrFormat", c.name, len(out), err)
		}
	}
	// A Context block is not a packed block's inner block.
	inner := append(header(Context, 8, len(valid)), valid...)
	if _, err := d.Decode(nil, Packed, 8*8, append([]byte{1}, inner...)); !errors.Is(err, ErrFormat) {
		t.Errorf("context inside packed: %v, want ErrFormat", err)
	}
	if _, _, _, err := Header(header(Context, 9, 1+mapLen+2*HeaderLen-1)); !errors.Is(err, ErrFormat) {
		t.Errorf("context header with too little data: %v, want ErrFormat", err)
	}
}

// TestContextLaneOverruns: the rebuild compares a lane's positions with
// their ends only after the loop, so a lane that runs out of a bucket
// goes on reading, in range or past the block's bytes, and the final
// check must refuse the block all the same; the decoder then decodes
// valid blocks as before.
func TestContextLaneOverruns(t *testing.T) {
	t.Parallel()
	n := MaxBlock
	lane := func(l int) int { return laneStart(n, l+1) - laneStart(n, l) }
	zero := func(int) byte { return 0 }
	one := func(int) byte { return 1 }
	walk := exponentWalk(rand.New(rand.NewPCG(13, 14)), n)
	cases := []struct {
		name   string
		counts []uint64
		data   func(counts []uint64) []byte
	}{
		// Every byte is in bucket 0, but lane 3 has one byte too few
		// there: its last byte is bucket 1's, inside the block.
		{"last byte from the next bucket", []uint64{uint64(lane(0)), uint64(lane(1)), uint64(lane(2)), 0, 0, 0}, func(c []uint64) []byte {
			return contextData(2, zero, c, stored(string(walk[:n-1])), stored("x"))
		}},
		// Every byte is in bucket 1, and lanes 0-2 have them all: lane 3
		// starts at the block's end and reads a lane's length past it.
		{"a lane past the block's end", []uint64{0, 0, 0, uint64(n - 1), 0, 0}, func(c []uint64) []byte {
			return contextData(2, one, c, stored("x"), stored(string(walk[:n-1])))
		}},
		// Lane 0 has no bytes of bucket 0 and reads lane 1's.
		{"a lane reading the next lane's bytes", []uint64{0, uint64(lane(0) + lane(1)), uint64(lane(2)), 0, 0, 0}, func(c []uint64) []byte {
			return contextData(2, zero, c, stored(string(walk[:n-1])), stored("x"))
		}},
	}
	var d Decoder
	raw, enc := contextBlocks(t, n)
	for _, c := range cases {
		dst := bytes.Repeat([]byte{0xaa}, n)
		out, err := d.Decode(dst, Context, n, c.data(c.counts))
		// Refused by the rebuild, not before it.
		if !errors.Is(err, ErrFormat) || !strings.Contains(fmt.Sprint(err), "shorter than its contexts") {
			t.Errorf("%s: got %d bytes, error %v; want ErrFormat from the rebuild", c.name, len(out), err)
		}
		// And nothing it read on the way is left in the caller's buffer.
		if left := len(dst) - bytes.Count(dst, []byte{0}) - bytes.Count(dst, []byte{0xaa}); left != 0 {
			t.Errorf("%s: %d bytes of the refused block left in the caller's buffer", c.name, left)
		}
		out, err = d.Decode(nil, Context, n, enc[HeaderLen:])
		if err != nil || !bytes.Equal(out, raw) {
			t.Fatalf("after %s: a valid block decodes wrong: %v", c.name, err)
		}
	}
}
