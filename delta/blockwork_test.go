package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/edgetuf/edgetuf/delta/internal/cm"
	"github.com/edgetuf/edgetuf/delta/internal/fseblock"
)

// tinyBlockPatch is a patch rebuilding n copies of unit with one INSERT
// record, its extra stream an FSE stream of n copies of block, a block
// (header included) that decodes to unit.
func tinyBlockPatch(t testing.TB, unit string, block []byte, n int) (base, patch []byte) {
	base = []byte("b")
	target := bytes.Repeat([]byte(unit), n)
	extra := append([]byte(fseMagic), bytes.Repeat(block, n)...)
	h := Header{BaseLength: 1, BaseSHA256: sha256.Sum256(base), TargetLength: int64(len(target)), TargetSHA256: sha256.Sum256(target)}
	ctrl := zstdBytes(t, appendRecord(nil, record{op: opInsert, width: 1, length: int64(len(target))}))
	p := h.marshal()
	p = append(p, segmentHeader{uint32(len(target)), uint32(len(ctrl)), 0, uint32(len(extra))}.marshal()...)
	p = append(p, ctrl...)
	return base, append(p, extra...)
}

// emptyFramesBlock is a Zstd block decoding to "x": one frame of it, then
// empty frames up to MaxBlock bytes of data.
func emptyFramesBlock(t testing.TB) []byte {
	d, e := zstdBytes(t, []byte("x")), zstdBytes(t, nil)
	for len(d)+len(e) <= fseblock.MaxBlock {
		d = append(d, e...)
	}
	h := binary.BigEndian.AppendUint32([]byte{fseblock.Zstd}, 1)
	return append(binary.BigEndian.AppendUint32(h, uint32(len(d))), d...)
}

// manySpansBlock is a Planes block of k 2-byte spans, of 8 classes in
// turn, each class stored, and the bytes it decodes to: the decoder
// passes over its spans once, then once per class.
func manySpansBlock(k int) ([]byte, []byte) {
	data := []byte{8}
	data = binary.AppendUvarint(data, uint64(k))
	out := make([]byte, 2*k)
	var cls [8][]byte
	for i := range k {
		c := byte(i % 8)
		data = append(data, c, 2)
		out[2*i], out[2*i+1] = 'a'+c, 'a'+c
		cls[c] = append(cls[c], 'a'+c, 'a'+c)
	}
	for _, b := range cls {
		data = append(data, fseblock.Stored)
		data = binary.BigEndian.AppendUint32(data, uint32(len(b)))
		data = binary.BigEndian.AppendUint32(data, uint32(len(b)))
		data = append(data, b...)
	}
	h := binary.BigEndian.AppendUint32([]byte{fseblock.Planes}, uint32(2*k))
	h = binary.BigEndian.AppendUint32(h, uint32(len(data)))
	return out, append(h, data...)
}

// adaptiveBlock is an Adaptive block of one span coding raw: for
// constant bytes, a few dozen bytes of data decode to up to MaxBlock.
func adaptiveBlock(raw []byte) []byte {
	data := binary.AppendUvarint([]byte{1}, 1)
	data = binary.AppendUvarint(append(data, 0), uint64(len(raw)))
	e := cm.NewEncoder()
	e.Begin(data)
	e.Span(raw, 0)
	data = e.Finish()
	h := binary.BigEndian.AppendUint32([]byte{fseblock.Adaptive}, uint32(len(raw)))
	h = binary.BigEndian.AppendUint32(h, uint32(len(data)))
	return append(h, data...)
}

// tinyBlockAttacks are FSE streams that make the decoder work hard for
// few output bytes: 9-byte Context blocks (a 128-byte map and two tables
// each), 9-byte Zstd blocks, Zstd blocks of 256 KiB of empty frames
// decoding to one byte, Planes blocks of 65,000 2-byte spans, and
// an Adaptive block decoding 256 KiB of constant bytes from 40 (one:
// the model carries over to the next, which a copy would not fit). Before
// blocks were charged work, they cost 18, 10, 2,900 and 4.9 ns of CPU per
// work unit, against 0.5-1.8 for legitimate patches (docs/delta.md, "Work
// budget"). The default budget refuses the first three.
func tinyBlockAttacks(t testing.TB) []struct {
	name, unit string
	block      []byte
	n, tables  int // blocks, and tables in each
	refused    bool
} {
	spansOut, spans := manySpansBlock(65000)
	constant := bytes.Repeat([]byte("a"), fseblock.MaxBlock)
	return []struct {
		name, unit string
		block      []byte
		n, tables  int
		refused    bool
	}{
		{"context", "new bytes", contextStream(9, 2, 1, laneCounts, "e yes", "nwbt")[4:], 100000, 2, true},
		{"zstd", "new bytes", zstdBlockStream(t, 9, "new bytes")[4:], 100000, 0, true},
		{"zstd empty frames", "x", emptyFramesBlock(t), 200, 0, true},
		{"planes of 2-byte spans", string(spansOut), spans, 20, 8, false},
		{"adaptive constant", string(constant), adaptiveBlock(constant), 1, 0, false},
	}
}

// TestTinyBlocksChargedWork performs the tiny-block attacks: each block
// is charged its work, so the default budget refuses the tiny blocks'
// patches with ErrLimit (they used 2 units per output byte before),
// never more than the budget is spent, and each block costs at least
// what blockWork says plus its tables.
func TestTinyBlocksChargedWork(t *testing.T) {
	t.Parallel()
	for _, c := range tinyBlockAttacks(t) {
		base, p := tinyBlockPatch(t, c.unit, c.block, c.n)
		budget := WorkBudget(int64(len(c.unit) * c.n))
		b := NewBudget(budget)
		_, err := applyBytes(base, p, Limits{MaxPatchRatio: -1, Work: b})
		if c.refused != errors.Is(err, ErrLimit) {
			t.Errorf("%s: %v, refused: %v", c.name, err, c.refused)
		}
		if b.Used() > budget {
			t.Errorf("%s: used %d units of a %d budget", c.name, b.Used(), budget)
		}
		// Charged per block: blockWork of each block decoded.
		b = NewBudget(1 << 62)
		if out, err := applyBytes(base, p, Limits{MaxPatchRatio: -1, Work: b}); err != nil || len(out) != len(c.unit)*c.n {
			t.Fatalf("%s with no budget: %v", c.name, err)
		}
		blk := c.block[fseblock.HeaderLen:]
		if min := int64(c.n) * (blockWork(c.block[0], int(binary.BigEndian.Uint32(c.block[1:])), blk) + int64(c.tables)*workPerBlock); b.Used() < min {
			t.Errorf("%s: %d units used, its blocks cost %d", c.name, b.Used(), min)
		}
		// A Planes block's passes over its spans: once, then per class.
		if spans := int64(65000 * 9 * workPerSpan); c.tables == 8 && b.Used() < int64(c.n)*spans {
			t.Errorf("%s: %d units used, its spans cost %d", c.name, b.Used(), int64(c.n)*spans)
		}
	}
}

// BenchmarkTinyBlocks reports the CPU time per work unit of the
// tiny-block attacks (ns/unit), to compare with the budget's
// calibration.
func BenchmarkTinyBlocks(b *testing.B) {
	for _, c := range tinyBlockAttacks(b) {
		base, p := tinyBlockPatch(b, c.unit, c.block, c.n)
		b.Run(c.name, func(b *testing.B) {
			var units int64
			for range b.N {
				w := NewBudget(1 << 62)
				if _, err := applyBytes(base, p, Limits{MaxPatchRatio: -1, Work: w}); err != nil {
					b.Fatal(err)
				}
				units += w.Used()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(units), "ns/unit")
		})
	}
}

// TestZstdStreamOfEmptyFramesChargedWork performs the same attack on a
// zstd-coded extra stream: one frame of "x", then 8 MiB of empty 9-byte
// frames (13.6 ns of CPU per byte, 3,500 ns per work unit before a zstd
// stream's bytes were charged). The default budget of its one-byte
// target refuses it with ErrLimit, within the budget.
func TestZstdStreamOfEmptyFramesChargedWork(t *testing.T) {
	t.Parallel()
	d, e := zstdBytes(t, []byte("x")), zstdBytes(t, nil)
	for len(d) < 8<<20 {
		d = append(d, e...)
	}
	base, target := []byte("b"), []byte("x")
	h := Header{BaseLength: 1, BaseSHA256: sha256.Sum256(base), TargetLength: 1, TargetSHA256: sha256.Sum256(target)}
	ctrl := zstdBytes(t, appendRecord(nil, record{op: opInsert, width: 1, length: 1}))
	p := append(h.marshal(), segmentHeader{1, uint32(len(ctrl)), 0, uint32(len(d))}.marshal()...)
	p = append(append(p, ctrl...), d...)
	b := NewBudget(WorkBudget(1))
	if _, err := applyBytes(base, p, Limits{MaxPatchRatio: -1, Work: b}); !errors.Is(err, ErrLimit) {
		t.Fatalf("%v, want ErrLimit", err)
	}
	if b.Used() > WorkBudget(1) {
		t.Fatalf("used %d units of a %d budget", b.Used(), WorkBudget(1))
	}
	// Charged per byte: with no budget it applies, for 4 units a byte.
	b = NewBudget(1 << 62)
	if out, err := applyBytes(base, p, Limits{MaxPatchRatio: -1, Work: b}); err != nil || string(out) != "x" {
		t.Fatalf("%q, %v", out, err)
	}
	if b.Used() < workPerZstdStreamByte*int64(len(d)) {
		t.Fatalf("used %d units for a %d-byte zstd stream", b.Used(), len(d))
	}
}
