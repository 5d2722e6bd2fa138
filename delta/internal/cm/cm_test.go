package cm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"testing"
	"time"
	"unsafe"
)

// planes returns n fp16-like weights shuffled into their two planes
// (low bytes, then high bytes), and their spans.
func planes(r *rand.Rand, n int) ([]byte, []Span) {
	raw := make([]byte, 2*n)
	for i := 0; i < n; i++ {
		v := uint16(r.NormFloat64()*300) + 0x3000
		raw[i], raw[n+i] = byte(v), byte(v>>8)
	}
	return raw, []Span{{0, n}, {1, n}}
}

// Span is a run of Len bytes of one class.
type Span struct {
	Class uint8
	Len   int
}

func encode(e *Encoder, raw []byte, spans []Span) []byte {
	e.Begin(nil)
	for _, s := range spans {
		e.Span(raw[:s.Len], s.Class)
		raw = raw[s.Len:]
	}
	return e.Finish()
}

func decode(d *Decoder, out, data []byte, spans []Span) error {
	d.Begin(data)
	for _, s := range spans {
		if err := d.Span(out[:s.Len], s.Class); err != nil {
			return err
		}
		out = out[s.Len:]
	}
	return d.Finish()
}

func roundTrip(t *testing.T, e *Encoder, d *Decoder, raw []byte, spans []Span) []byte {
	t.Helper()
	e.Reset()
	d.Reset()
	enc := encode(e, raw, spans)
	out := make([]byte, len(raw))
	if err := decode(d, out, enc, spans); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, raw) {
		t.Fatal("round trip differs")
	}
	return enc
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	e, d := NewEncoder(), NewDecoder()
	pl, plSpans := planes(r, 30000)
	random := make([]byte, 50000)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	constant := bytes.Repeat([]byte{7}, 50000)
	for _, c := range []struct {
		name  string
		raw   []byte
		spans []Span
		max   float64 // largest coded size, as a share of the raw
	}{
		{"planes", pl, plSpans, 0.75},
		{"random", random, []Span{{3, len(random)}}, 1.01},
		{"constant", constant, []Span{{7, len(constant)}}, 0.002},
		{"one byte", []byte{200}, []Span{{0, 1}}, 5},
		{"many spans", random[:999], []Span{{0, 333}, {5, 333}, {0, 1}, {2, 332}}, 1.05},
	} {
		enc := roundTrip(t, e, d, c.raw, c.spans)
		if float64(len(enc)) > c.max*float64(len(c.raw)) {
			t.Errorf("%s: %d bytes coded in %d", c.name, len(c.raw), len(enc))
		}
	}
}

// TestTableBytes: TableBytes is what a model holds, within the 4 MiB
// that Apply may spend on each.
func TestTableBytes(t *testing.T) {
	t.Parallel()
	m := newModel()
	got := int(unsafe.Sizeof(m.o0)+unsafe.Sizeof(m.w)+unsafe.Sizeof(m.apm)) + 4*len(m.o1) + 4*len(m.hashed)
	if got != TableBytes || TableBytes > 4<<20 {
		t.Errorf("a model holds %d bytes, TableBytes %d (at most %d)", got, TableBytes, 4<<20)
	}
}

// TestCarryOver codes blocks one after another, the model carried over,
// one of them taken back with Undo: the decoder, seeing only the blocks
// kept, decodes each; decoded from a reset model instead, the second
// block's coding fails or differs.
func TestCarryOver(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	e, d := NewEncoder(), NewDecoder()
	a, aSpans := planes(r, 20000)
	b, bSpans := planes(r, 20000)
	c, cSpans := planes(r, 20000)
	encA := encode(e, a, aSpans)
	encB := encode(e, b, bSpans)
	e.Undo()
	encC := encode(e, c, cSpans)
	if fresh := encode(NewEncoder(), c, cSpans); len(encC) >= len(fresh) {
		t.Errorf("carried over, %d bytes coded in %d; from a reset model in %d", len(c), len(encC), len(fresh))
	}
	_ = encB
	out := make([]byte, len(a))
	for _, blk := range []struct {
		raw, enc []byte
		spans    []Span
	}{{a, encA, aSpans}, {c, encC, cSpans}} {
		if err := decode(d, out, blk.enc, blk.spans); err != nil || !bytes.Equal(out, blk.raw) {
			t.Fatalf("carried over: %v", err)
		}
	}
	d.Reset()
	if err := decode(d, out, encC, cSpans); err == nil && bytes.Equal(out, c) {
		t.Error("a block coded with a carried-over model decodes from a reset one")
	}
}

// TestMalformed decodes truncated, extended and corrupted codings: each
// must fail with ErrFormat or, where the corruption still decodes to the
// exact end of the data, give bytes of the right length.
func TestMalformed(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	d := NewDecoder()
	raw, spans := planes(r, 5000)
	enc := encode(NewEncoder(), raw, spans)
	out := make([]byte, len(raw))
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated by 1", enc[:len(enc)-1]},
		{"truncated by half", enc[:len(enc)/2]},
		{"one byte more", append(bytes.Clone(enc), 0)},
		{"four bytes more", append(bytes.Clone(enc), 1, 2, 3, 4)},
	} {
		d.Reset()
		if err := decode(d, out, c.data, spans); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", c.name, err)
		}
	}
	// Random garbage: almost always refused; never a panic, and the
	// time is bounded by the bytes asked for.
	refused := 0
	for i := 0; i < 200; i++ {
		g := make([]byte, 1+r.IntN(3*len(enc)/2))
		for j := range g {
			g[j] = byte(r.Uint32())
		}
		d.Reset()
		if err := decode(d, out, g, spans); err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatal(err)
			}
			refused++
		}
	}
	if refused < 190 {
		t.Errorf("only %d of 200 garbage codings refused", refused)
	}
}

// TestDumpedStreams measures the coder on streams dumped by the delta
// package (CM_DUMP: NAME.extra and NAME.extraspans, a class byte and a
// little-endian uint32 length per span), in 256 KiB blocks.
func TestDumpedStreams(t *testing.T) {
	dir := os.Getenv("CM_DUMP")
	if dir == "" {
		t.Skip("CM_DUMP not set")
	}
	e, d := NewEncoder(), NewDecoder()
	for _, name := range []string{"pose-bundle", "facemesh-bundle", "hands-swap-bundle"} {
		raw, err := os.ReadFile(dir + "/" + name + ".extra")
		if err != nil {
			t.Fatal(err)
		}
		sb, _ := os.ReadFile(dir + "/" + name + ".extraspans")
		var spans []Span
		for ; len(sb) >= 5; sb = sb[5:] {
			spans = append(spans, Span{sb[0], int(binary.LittleEndian.Uint32(sb[1:]))})
		}
		total, n := 0, len(raw)
		e.Reset()
		d.Reset()
		var dt time.Duration
		for len(raw) > 0 {
			blk := raw[:min(len(raw), 256<<10)]
			raw = raw[len(blk):]
			var bs []Span
			for left := len(blk); left > 0; {
				l := min(left, spans[0].Len)
				bs = append(bs, Span{spans[0].Class, l})
				if spans[0].Len -= l; spans[0].Len == 0 {
					spans = spans[1:]
				}
				left -= l
			}
			enc := encode(e, blk, bs)
			total += len(enc)
			out := make([]byte, len(blk))
			t0 := time.Now()
			if err := decode(d, out, enc, bs); err != nil || !bytes.Equal(out, blk) {
				t.Fatal(name, err)
			}
			dt += time.Since(t0)
		}
		t.Logf("%s: %d bytes coded in %d, decode %.1f MB/s", name, n, total, float64(n)/dt.Seconds()/1e6)
	}
}

func BenchmarkDecode(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	raw, spans := planes(r, 128<<10)
	enc := encode(NewEncoder(), raw, spans)
	d := NewDecoder()
	out := make([]byte, len(raw))
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		d.Reset()
		if err := decode(d, out, enc, spans); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	raw, spans := planes(r, 128<<10)
	e := NewEncoder()
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		e.Reset()
		encode(e, raw, spans)
	}
}
