// The coder: turns matches into records (COPY, XOR, SUB, INSERT), choosing
// per piece by an entropy estimate and a trial compression.

package delta

import (
	"math"
)

// coder turns matches into records: COPY for matches, and for the gaps
// between them, per piece, whichever of XOR, SUB (widths 1, 2, 4, against
// the base at the offset of the match before, the match after, or the
// same offset) or INSERT the estimates say compress best.
type coder struct {
	old     []byte
	oldBase int64
	new     []byte
	newBase int64
	w       *patchWriter
	// regions are Diff's regions (regions.go), sorted and disjoint.
	regions []Region

	// pending is the record being grown by adjacent pieces.
	pending    record
	pendingPos int // chunk offset where pending starts
	havePend   bool

	est, tmp []byte
}

func (c *coder) code(ms []match) error {
	c.est = make([]byte, ShuffleBlock)
	c.tmp = make([]byte, ShuffleBlock)
	pos := 0
	prevDelta, havePrev := 0, false
	for _, m := range ms {
		if m.newPos > pos {
			deltas := []int{0}
			if havePrev {
				deltas = append(deltas, prevDelta)
			}
			deltas = append(deltas, m.oldPos-m.newPos)
			if err := c.gapByRegion(pos, m.newPos, deltas); err != nil {
				return err
			}
		}
		if err := c.emit(m.newPos, record{op: opCopy, length: int64(m.n), offset: c.oldBase + int64(m.oldPos)}); err != nil {
			return err
		}
		pos = m.newPos + m.n
		prevDelta, havePrev = m.oldPos-m.newPos, true
	}
	if pos < len(c.new) {
		deltas := []int{0}
		if havePrev {
			deltas = append(deltas, prevDelta)
		}
		if err := c.gapByRegion(pos, len(c.new), deltas); err != nil {
			return err
		}
	}
	return c.flushPending()
}

// gap codes new[a:b], split into pieces: an unaligned head and tail of up
// to 3 bytes, and shuffle blocks between.
func (c *coder) gap(a, b int, deltas []int) error {
	abs := func(p int) int64 { return c.newBase + int64(p) }
	head := a
	for head < b && abs(head)%4 != 0 {
		head++
	}
	tail := b
	for tail > head && abs(tail)%4 != 0 {
		tail--
	}
	if err := c.piece(a, head, deltas); err != nil {
		return err
	}
	for p := head; p < tail; {
		e := int(pieceEnd(abs(p), abs(tail)) - c.newBase)
		if err := c.piece(p, e, deltas); err != nil {
			return err
		}
		p = e
	}
	return c.piece(tail, b, deltas)
}

// piece chooses the coding of new[a:b] (within one shuffle block).
func (c *coder) piece(a, b int, deltas []int) error {
	if a >= b {
		return nil
	}
	n := b - a
	deltas = c.withRegions(deltas, a, b)
	al4 := (c.newBase+int64(a))%4 == 0 && n%4 == 0
	al2 := (c.newBase+int64(a))%2 == 0 && n%2 == 0
	// Sample the start of the piece for the estimate.
	sn := min(n, sampleLen)
	if al4 {
		sn -= sn % 4
	}
	if sn == 0 {
		sn = n
	}
	best := record{op: opInsert, width: 1, length: int64(n)}
	src := c.new[a : a+sn]
	// Coding against the base must beat a plain insert by 1%: on data
	// that matches nothing, reading the base buys nothing.
	bestCost := entropyBest(src, al2, al4, &best.width)
	// The order-0 estimate cannot see repeats (text, code, tables): a
	// trial with zstd's fastest level can. Data it codes smaller goes
	// unshuffled, where a match finder sees its repeats.
	if z := float64(c.w.trialSize(src)); z < bestCost {
		bestCost, best.width = z, 1
	}
	bestCost *= 0.99
	seen := map[int]bool{}
	for _, d := range deltas {
		if seen[d] || a+d < 0 || b+d > len(c.old) {
			continue
		}
		seen[d] = true
		old := c.old[a+d : a+d+sn]
		e := c.est[:sn]
		encodeXOR(e, src, old)
		var w uint8
		if cost := entropyBest(e, al2, al4, &w); cost < bestCost {
			bestCost, best = cost, record{op: opXOR, width: w, length: int64(n), offset: c.oldBase + int64(a+d)}
		}
		for _, sw := range []int{1, 2, 4} {
			if (sw == 2 && !al2) || (sw == 4 && !al4) {
				continue
			}
			encodeSub(e, src, old, sw)
			if cost := planeEntropy(e, sw); cost < bestCost {
				bestCost, best = cost, record{op: opSub, width: uint8(sw), length: int64(n), offset: c.oldBase + int64(a+d)}
			}
		}
	}
	return c.emit(a, best)
}

// widerMinGain: see entropyBest. Measured on a real asset bundle of fp16
// tflite weights (pose-bundle), where width 4 was chosen over 2 and cost
// 3% of the patch. 0.03 rather than 0.02: 0.01-0.07 points smaller on
// the real pairs (docs/delta.md section 5); 0.05 loses 0.18 on
// hands-swap-bundle, 0 loses 1.3 on pose-bundle.
const widerMinGain = 0.03

// entropyBest returns the lowest estimated size of b over the allowed
// plane widths, and sets *w to that width.
func entropyBest(b []byte, al2, al4 bool, w *uint8) float64 {
	var hist [4][256]int
	for i, x := range b {
		hist[i&3][x]++
	}
	// Planes are by absolute offset; b starts at an offset that is a
	// multiple of 4 whenever al2 or al4 is set.
	var h1, h2a, h2b [256]int
	for v := 0; v < 256; v++ {
		h1[v] = hist[0][v] + hist[1][v] + hist[2][v] + hist[3][v]
		h2a[v] = hist[0][v] + hist[2][v]
		h2b[v] = hist[1][v] + hist[3][v]
	}
	best := entropy(&h1)
	*w = 1
	// A wider shuffle must win by widerMinGain: on a sample, more planes
	// mean smaller histograms, whose entropy is underestimated, and two
	// planes of the same kind (the low bytes of fp16 weights) split in
	// two make repeats harder to find.
	if al2 {
		if c := entropy(&h2a) + entropy(&h2b); c < best*(1-widerMinGain) {
			best, *w = c, 2
		}
	}
	if al4 {
		if c := entropy(&hist[0]) + entropy(&hist[1]) + entropy(&hist[2]) + entropy(&hist[3]); c < best*(1-widerMinGain) {
			best, *w = c, 4
		}
	}
	return best
}

func planeEntropy(b []byte, w int) float64 {
	var hist [4][256]int
	for i, x := range b {
		hist[i%w][x]++
	}
	var c float64
	for p := 0; p < w; p++ {
		c += entropy(&hist[p])
	}
	return c
}

// entropy is the order-0 entropy of a histogram, in bytes, with a floor
// per distinct symbol so that near-constant planes are not free.
func entropy(h *[256]int) float64 {
	n := 0
	for _, c := range h {
		n += c
	}
	if n == 0 {
		return 0
	}
	var bitsum float64
	for _, c := range h {
		if c > 0 {
			bitsum -= float64(c) * math.Log2(float64(c)/float64(n))
		}
	}
	return bitsum/8 + float64(n)/512
}

// emit adds a record starting at chunk offset a, merging it into the
// pending record when it continues it with the same coding.
func (c *coder) emit(a int, r record) error {
	if c.havePend {
		p := &c.pending
		if p.op == r.op && p.width == r.width && c.pendingPos+int(p.length) == a &&
			(r.op == opInsert || p.offset+p.length == r.offset) {
			p.length += r.length
			return nil
		}
		if err := c.flushPending(); err != nil {
			return err
		}
	}
	c.pending, c.pendingPos, c.havePend = r, a, true
	return nil
}

func (c *coder) flushPending() error {
	if !c.havePend {
		return nil
	}
	c.havePend = false
	return c.w.add(c.pending, c.new[c.pendingPos:c.pendingPos+int(c.pending.length)], c.old, c.oldBase, c.newBase+int64(c.pendingPos))
}

// maxAdaptiveTarget: targets smaller than this may have their diff and
// extra streams coded by the adaptive model (fseblock mode 8), which
// makes the weights of a retrained fp16 model 7% smaller but decodes at
// a few MB/s: worth it on a small model, where the patch's size counts
// and Apply takes a fraction of a second anyway, not on large ones,
// whose Apply should keep up with a file copy.
const maxAdaptiveTarget = 16 << 20

// maxAdaptive is how many bytes of a target of newLen bytes may be coded
// adaptively (none with Options.FastApply).
func maxAdaptive(newLen int64, fastApply bool) int {
	if fastApply || newLen >= maxAdaptiveTarget {
		return 0
	}
	return int(newLen)
}
