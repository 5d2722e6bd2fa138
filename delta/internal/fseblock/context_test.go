package fseblock

import (
	"bytes"
	"errors"
	"math/rand/v2"
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
// bucket of every previous byte given by bucketOf, then the sub-blocks.
func contextData(k byte, bucketOf func(v int) byte, subs ...[]byte) []byte {
	b := []byte{k}
	for v := 0; v < 256; v += 2 {
		b = append(b, bucketOf(v)|bucketOf(v+1)<<4)
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
	// "abab": the previous bytes are 0, 'a', 'b', 'a': bucket 1 for 'a'
	// ('b' follows it), bucket 0 for the others ('a' follows them).
	byA := func(v int) byte {
		if v == 'a' {
			return 1
		}
		return 0
	}
	var d Decoder
	valid := contextData(2, byA, stored("aa"), stored("bb"))
	if out, err := d.Decode(nil, Context, 4, valid); err != nil || string(out) != "abab" {
		t.Fatalf("valid block: %q, %v", out, err)
	}
	var e Encoder
	walk := exponentWalk(rand.New(rand.NewPCG(9, 10)), 5000)
	packed := e.AppendBlocks(nil, make([]byte, 200), nil)
	cases := []struct {
		name   string
		rawLen int
		data   []byte
	}{
		{"no bucket count", 4, []byte{}},
		{"one bucket", 4, contextData(1, func(int) byte { return 0 }, stored("abab"))},
		{"too many buckets", 4, contextData(MaxBuckets+1, byA, stored("aa"), stored("bb"))},
		{"map cut", 4, valid[:1+mapLen-1]},
		{"bucket out of range (even byte)", 4, contextData(2, func(v int) byte { return byte(v & 2) }, stored("aa"), stored("bb"))},
		{"bucket out of range (odd byte)", 4, contextData(2, func(v int) byte { return byte(v&1) * 5 }, stored("aa"), stored("bb"))},
		{"buckets short of the block", 5, valid},
		{"buckets past the block", 3, valid},
		{"a bucket shorter than its contexts", 4, contextData(2, byA, stored("a"), stored("bbb"))},
		{"a bucket never used", 4, contextData(3, byA, stored("aa"), stored("bb"), stored("c"))},
		{"empty bucket", 4, contextData(2, byA, stored("aabb"), header(Stored, 0, 0))},
		{"bucket block cut", 4, contextData(2, byA, stored("aa"), header(Stored, 2, 2), []byte("b"))},
		{"bucket block missing", 4, contextData(2, byA, stored("aa"))},
		{"bucket header cut", 4, contextData(2, byA, stored("aa"), header(Stored, 2, 2)[:5])},
		{"bytes after the buckets", 4, append(contextData(2, byA, stored("aa"), stored("bb")), 0)},
		{"nested packed", 200, contextData(2, func(int) byte { return 0 }, packed, stored("x"))},
		{"nested context", 4, contextData(2, byA, stored("aa"), append(header(Context, 2, len(valid)), valid...))},
		{"nested planes", 4, contextData(2, byA, stored("aa"), append(header(Planes, 2, 5), planes(1, []Span{{0, 2}}, stored("bb"))...))},
		{"a bucket that does not decode", len(walk), contextData(2, func(int) byte { return 0 }, header(FSE, len(walk)-1, 4), []byte{0xff, 0xff, 0xff, 0xff}, stored("x"))},
	}
	for _, c := range cases {
		out, err := d.Decode(nil, Context, c.rawLen, c.data)
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: got %d bytes, error %v; want ErrFormat", c.name, len(out), err)
		}
	}
	// A Context block is not a packed block's inner block.
	inner := append(header(Context, 2, len(valid)), valid...)
	if _, err := d.Decode(nil, Packed, 8, append([]byte{2}, inner...)); !errors.Is(err, ErrFormat) {
		t.Errorf("context inside packed: %v, want ErrFormat", err)
	}
	if _, _, _, err := Header(header(Context, 9, 1+mapLen+2*HeaderLen-1)); !errors.Is(err, ErrFormat) {
		t.Errorf("context header with too little data: %v, want ErrFormat", err)
	}
}
