package fseblock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/edgetuf/edgetuf/delta/internal/cm"
)

// retrainedFP16 is n fp16 weights of a retrained model, shuffled by
// plane in 64 KiB blocks (low bytes, then high bytes), as the delta
// extra stream holds inserted weights: every 4096 weights a new tensor
// with a scale of its own, which static tables per block fit badly.
func retrainedFP16(r *rand.Rand, n int) []byte {
	w := make([]uint16, n)
	scale := 0.05
	for i := range w {
		if i%4096 == 0 {
			scale = 0.002 + r.Float64()*0.2
		}
		w[i] = fp16(float32(r.NormFloat64() * scale))
	}
	out := make([]byte, 0, 2*n)
	for p := 0; p < n; p += 32 << 10 {
		blk := w[p:min(n, p+32<<10)]
		for _, x := range blk {
			out = append(out, byte(x))
		}
		for _, x := range blk {
			out = append(out, byte(x>>8))
		}
	}
	return out
}

// fp16 rounds f (normal, |f| < 2) to half precision.
func fp16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	if exp <= 0 {
		return sign
	}
	return sign | uint16(exp)<<10 | uint16(b>>13&0x3ff)
}

func adaptiveBlocks(enc []byte) (n int) {
	for len(enc) >= HeaderLen {
		mode, _, dataLen, err := Header(enc)
		if err != nil {
			return -1
		}
		if mode == Adaptive {
			n++
		}
		enc = enc[HeaderLen+dataLen:]
	}
	return n
}

// TestAdaptiveRoundTrip: retrained fp16 weights are coded as Adaptive
// blocks, at least 2% smaller than without, only as many bytes as
// MaxAdaptive allows; random and constant bytes never are; every coding
// decodes back, with the model carried over from block to block.
func TestAdaptiveRoundTrip(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(8, 9))
	weights := retrainedFP16(r, 256<<10)
	spans := planeSpans(len(weights), 2)
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	constant := bytes.Repeat([]byte{3}, 300<<10)
	var static Encoder
	staticLen := len(static.AppendBlocks(nil, weights, spans))
	for _, c := range []struct {
		name        string
		raw         []byte
		spans       []Span
		maxAdaptive int
		blocks      int // Adaptive blocks
	}{
		{"weights", weights, spans, 1 << 30, 2},
		{"weights, MaxAdaptive 300 KiB", weights, spans, 300 << 10, 1},
		{"weights, MaxAdaptive 0", weights, spans, 0, 0},
		{"random", random, nil, 1 << 30, 0},
		{"constant", constant, nil, 1 << 30, 0},
	} {
		e := Encoder{MaxAdaptive: c.maxAdaptive}
		enc := e.AppendBlocks(nil, c.raw, c.spans)
		if n := adaptiveBlocks(enc); n != c.blocks {
			t.Errorf("%s: %d Adaptive blocks, want %d", c.name, n, c.blocks)
		}
		if c.blocks == 2 && float64(len(enc)) > 0.98*float64(staticLen) {
			t.Errorf("%s: %d bytes coded in %d, without Adaptive blocks %d", c.name, len(c.raw), len(enc), staticLen)
		}
		for _, into := range []bool{false, true} {
			got, err := decodeAll(t, enc, into)
			if err != nil || !bytes.Equal(got, c.raw) {
				t.Errorf("%s (into %v): round trip differs: %v", c.name, into, err)
			}
		}
		// The same encoder codes a second stream from a reset model.
		if again := e.AppendBlocks(nil, c.raw, c.spans); c.maxAdaptive == 0 && !bytes.Equal(again, enc) {
			t.Errorf("%s: a second stream codes differently", c.name)
		}
	}
}

// TestAdaptiveStreams: one Decoder decodes a stream of Adaptive blocks,
// then after Reset the same stream again (the model reset at its first
// block); without Reset, the model carried over, the second decoding
// fails.
func TestAdaptiveStreams(t *testing.T) {
	t.Parallel()
	weights := retrainedFP16(rand.New(rand.NewPCG(12, 13)), 64<<10)
	e := Encoder{MaxAdaptive: 1 << 30}
	enc := e.AppendBlocks(nil, weights, planeSpans(len(weights), 2))
	if adaptiveBlocks(enc) == 0 {
		t.Fatal("no Adaptive block")
	}
	var d Decoder
	decode := func() error {
		mode, rawLen, dataLen, err := Header(enc)
		if err != nil {
			return err
		}
		out, err := d.Decode(nil, mode, rawLen, enc[HeaderLen:HeaderLen+dataLen])
		if err == nil && !bytes.Equal(out, weights) {
			err = errors.New("decodes differently")
		}
		return err
	}
	if err := decode(); err != nil {
		t.Fatal(err)
	}
	d.Reset()
	if err := decode(); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
	if err := decode(); err == nil {
		t.Error("the model carried over, the stream decoded again")
	}
}

// adaptiveData codes raw as an Adaptive block's data by hand: the class
// count, the spans, the coding.
func adaptiveData(raw []byte, spans []Span) []byte {
	var m uint8
	for _, s := range spans {
		m = max(m, s.Class+1)
	}
	data := binary.AppendUvarint([]byte{m}, uint64(len(spans)))
	for _, s := range spans {
		data = binary.AppendUvarint(append(data, s.Class), uint64(s.Len))
	}
	e := cm.NewEncoder()
	e.Begin(data)
	for _, s := range spans {
		e.Span(raw[:s.Len], s.Class)
		raw = raw[s.Len:]
	}
	return e.Finish()
}

// TestMalformedAdaptiveBlocks: a truncated or extended coding, spans that
// do not cover the raw length, a class past the count, garbage in place
// of the coding, and Adaptive blocks where only plain blocks may be,
// are each refused with ErrFormat.
func TestMalformedAdaptiveBlocks(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(10, 11))
	raw := retrainedFP16(r, 2000)
	two := []Span{{0, 2000}, {1, 2000}}
	good := adaptiveData(raw, two)
	var d Decoder
	if out, err := d.Decode(nil, Adaptive, len(raw), good); err != nil || !bytes.Equal(out, raw) {
		t.Fatalf("valid block: %v", err)
	}
	garbage := bytes.Clone(good)
	for i := 8; i < len(garbage); i++ {
		garbage[i] = byte(r.Uint32())
	}
	for _, c := range []struct {
		name   string
		rawLen int
		data   []byte
	}{
		{"coding truncated by one byte", len(raw), good[:len(good)-1]},
		{"coding truncated by half", len(raw), good[:len(good)/2]},
		{"one byte after the coding", len(raw), append(bytes.Clone(good), 0)},
		{"raw length one more than the spans", len(raw) + 1, good},
		{"raw length one less than the spans", len(raw) - 1, good},
		{"class past the count", len(raw), append([]byte{1, 2, 0, 0xd0, 0x0f, 1, 0xd0, 0x0f}, good[8:]...)},
		{"garbage coding", len(raw), garbage},
		{"no spans", len(raw), []byte{1, 0, 0, 0, 0, 0, 0, 0}},
	} {
		var d Decoder
		if _, err := d.Decode(nil, Adaptive, c.rawLen, c.data); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", c.name, err)
		}
	}
	// The header bounds: raw length past MaxBlock, data too short.
	for _, h := range [][]byte{header(Adaptive, MaxBlock+1, 100), header(Adaptive, 100, minAdaptiveData-1), header(Adaptive, 100, MaxBlock+1)} {
		if _, _, _, err := Header(h); !errors.Is(err, ErrFormat) {
			t.Errorf("header % x: %v, want ErrFormat", h, err)
		}
	}
	// Not a Planes class, not a Packed block's inner block.
	small := adaptiveData([]byte("abcd"), []Span{{0, 4}})
	inner := append(header(Adaptive, 4, len(small)), small...)
	pl := planes(2, []Span{{0, 4}, {1, 2}}, inner, stored("ef"))
	if _, err := d.Decode(nil, Planes, 6, pl); !errors.Is(err, ErrFormat) {
		t.Errorf("Adaptive class of a Planes block: %v", err)
	}
	if _, err := d.Decode(nil, Packed, 4, append([]byte{1}, inner...)); !errors.Is(err, ErrFormat) {
		t.Errorf("Adaptive inner block of a Packed block: %v", err)
	}
	// Random garbage codings of random lengths: refused, never a panic;
	// a coding that decodes ends exactly at its data's end, by
	// construction of the check.
	refused := 0
	for i := 0; i < 100; i++ {
		g := make([]byte, 4+r.IntN(len(good)))
		for j := range g {
			g[j] = byte(r.Uint32())
		}
		data := append(bytes.Clone(good[:8]), g...)
		if _, err := d.Decode(nil, Adaptive, len(raw), data); err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatal(err)
			}
			refused++
		}
	}
	if refused < 95 {
		t.Errorf("only %d of 100 garbage codings refused", refused)
	}
}

// TestWriteAdaptiveSeed keeps the fuzz corpus's Adaptive seed in step
// with the coder: FUZZ_SEEDS=1 rewrites it.
func TestWriteAdaptiveSeed(t *testing.T) {
	raw := []byte("ab\x01\x02cd\x03\x04efgh")
	data := adaptiveData(raw, []Span{{0, 4}, {1, 4}, {0, 4}})
	blk := append(header(Adaptive, len(raw), len(data)), data...)
	path := filepath.Join("testdata", "fuzz", "FuzzDecode", "adaptive")
	seed := []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(blk)) + ")\n")
	if os.Getenv("FUZZ_SEEDS") != "" {
		if err := os.WriteFile(path, seed, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if have, err := os.ReadFile(path); err != nil || !bytes.Equal(have, seed) {
		t.Errorf("%s is not the current Adaptive seed (FUZZ_SEEDS=1 rewrites it): %v", path, err)
	}
}
