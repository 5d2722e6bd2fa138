// Context blocks: order-1 coding with static tables. A byte plane of
// weights depends on its neighbours (consecutive fp16 weights have
// similar exponents): on a real tflite bundle the high-byte plane's
// order-0 entropy is 1.18 MB and its entropy given the previous high byte
// 0.82 MB. A Context block splits its bytes into a few sub-streams by a
// bucket of the previous byte, codes each with its own table, and the
// decoder rebuilds the block taking each byte from its context's
// sub-stream: one table look-up per byte more than an order-0 block.
//
// The data of a Context block is
//
//	buckets     1 byte, 2 .. MaxBuckets
//	map         128 bytes: the bucket of each previous byte value v, 4
//	            bits each (v even: the low bits of byte v/2), < buckets
//	counts      per bucket, per part but the last: uvarint
//	one block per bucket, in bucket order, in mode Stored, FSE, RLE or
//	Huffman, holding in order the bytes whose previous byte maps to that
//	bucket; their raw lengths add up to the block's
//
// The block is rebuilt in lanes parts (4) at once, part l starting at
// byte l*n/4 of its n: each part's first byte has the previous byte 0,
// and each bucket's bytes are part 0's, then part 1's, ... Between the
// map and the bucket blocks, the number of bytes of each bucket in each
// part but the last, as uvarints: bucket 0's three, then bucket 1's...
package fseblock

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

const (
	// MaxBuckets is the most sub-streams of a Context block.
	MaxBuckets = 16
	mapLen     = 128
	// lanes is how many parts of a Context block are rebuilt together.
	lanes = 4
	// catLen is the length of the buffer of a Context block's buckets:
	// MaxBlock and a lane more, as far as rebuildLanes may read (see
	// there).
	catLen = MaxBlock + MaxBlock/lanes + 1
	// minContext is the smallest block tried as a Context block: below,
	// the tables cost more than the context gains.
	minContext = 4 << 10
	// maxContexts is how many of the most frequent previous byte values
	// the encoder clusters one by one; the rarer ones start in one
	// cluster. It bounds the clustering's time (quadratic in it).
	maxContexts = 128
	// preferContext is how much smaller (as a share) a Context coding
	// must be than the order-0 one to be kept: it decodes more slowly.
	// At 0.01 rather than 0.03 the real pairs are up to 0.08 points
	// smaller and isnet's apply CPU within noise (2%).
	preferContext = 0.01
	// minContextGain is how much smaller (as a share) the order-1
	// entropy must be than the order-0 one for the encoder to look for
	// buckets.
	minContextGain = 0.04
)

// cluster is a set of previous byte values and the histogram of the
// bytes that follow them.
type cluster struct {
	hist  [256]int
	nz    []uint8 // the symbols of non-zero count
	n     int
	cost  float64 // estimated coded size of its bytes, table included
	alive bool
}

// histCost estimates the coded size of a histogram's n bytes: their
// order-0 entropy, n*log2(n) - sum c*log2(c) bits, plus a block header
// and a table.
func histCost(h *[256]int, n int) float64 {
	if n == 0 {
		return 0
	}
	bits := xlog2x(n)
	distinct := 0
	for _, c := range h {
		if c > 0 {
			bits -= xlog2x(c)
			distinct++
		}
	}
	return bits/8 + HeaderLen + 8 + float64(distinct)/2
}

func nonZero(dst []uint8, h *[256]int) []uint8 {
	for s, x := range h {
		if x > 0 {
			dst = append(dst, uint8(s))
		}
	}
	return dst
}

// xlog2xTable holds x*log2(x) for small x: the clustering evaluates it
// millions of times per block.
var xlog2xTable = func() (t [4096]float64) {
	for x := 1; x < len(t); x++ {
		t[x] = float64(x) * math.Log2(float64(x))
	}
	return t
}()

func xlog2x(x int) float64 {
	if x < len(xlog2xTable) {
		return xlog2xTable[x]
	}
	return float64(x) * math.Log2(float64(x))
}

// contextMap chooses the bucket of each previous byte value for blk, by
// merging clusters of contexts while that lowers the estimated size, and
// then down to MaxBuckets. It returns the number of buckets, 0 when one
// table does as well.
func (e *Encoder) contextMap(blk []byte, bucket *[256]uint8) int {
	if e.hist == nil {
		e.hist = new([256][256]int)
	}
	hist := e.hist
	clear(hist[:])
	var count [256]int
	prev := byte(0)
	for _, b := range blk {
		hist[prev][b]++
		count[prev]++
		prev = b
	}
	// Give up early when even one table per previous byte value would
	// not gain: its entropy, corrected for the bias of small histograms
	// ((distinct-1)/(2 ln 2) bits each), against one table's.
	h0 := xlog2x(len(blk))
	var h1 float64
	var all [256]int
	for v := range hist {
		if count[v] == 0 {
			continue
		}
		h1 += xlog2x(count[v])
		for s, x := range hist[v] {
			if x > 0 {
				h1 += (0.5/math.Ln2 - xlog2x(x))
				all[s] += x
			}
		}
		h1 -= 0.5 / math.Ln2
	}
	for _, x := range all {
		h0 -= xlog2x(x)
	}
	if h0 <= 0 || h1 > h0*(1-minContextGain) {
		return 0
	}
	order := make([]int, 0, 256)
	for v := range 256 {
		if count[v] > 0 {
			order = append(order, v)
		}
	}
	sort.Slice(order, func(i, j int) bool { return count[order[i]] > count[order[j]] })
	cl := e.clusters[:0]
	defer func() { e.clusters = cl[:0] }()
	var owner [256]int
	for i, v := range order {
		if i <= maxContexts {
			cl = append(cl, cluster{})
		}
		k := min(i, maxContexts)
		owner[v] = k
		c := &cl[k]
		for s, x := range hist[v] {
			c.hist[s] += x
		}
		c.n += count[v]
	}
	if len(cl) < 2 {
		return 0
	}
	var whole cluster
	for i := range cl {
		cl[i].cost, cl[i].alive = histCost(&cl[i].hist, cl[i].n), true
		cl[i].nz = nonZero(cl[i].nz[:0], &cl[i].hist)
		for s, x := range cl[i].hist {
			whole.hist[s] += x
		}
		whole.n += cl[i].n
	}
	// gain[i][j]: how much merging clusters i and j saves (negative:
	// costs). Only the symbols both have change the sum of c*log2(c),
	// and only they are counted twice in the tables.
	gainOf := func(i, j int) float64 {
		a, b := &cl[i], &cl[j]
		if len(a.nz) > len(b.nz) {
			a, b = b, a
		}
		bits := xlog2x(a.n) + xlog2x(b.n) - xlog2x(a.n+b.n)
		common := 0
		for _, s := range a.nz {
			if y := b.hist[s]; y > 0 {
				x := a.hist[s]
				bits += xlog2x(x+y) - xlog2x(x) - xlog2x(y)
				common++
			}
		}
		return bits/8 + HeaderLen + 8 + float64(common)/2
	}
	if cap(e.gain) < len(cl)*len(cl) {
		e.gain = make([]float64, len(cl)*len(cl))
	}
	gain := make([][]float64, len(cl))
	for i := range cl {
		gain[i] = e.gain[i*len(cl) : (i+1)*len(cl)]
		for j := 0; j < i; j++ {
			gain[i][j] = gainOf(i, j)
		}
	}
	alive := len(cl)
	for alive > 1 {
		bi, bj, bg := -1, -1, math.Inf(-1)
		for i := range cl {
			for j := 0; j < i; j++ {
				if cl[i].alive && cl[j].alive && gain[i][j] > bg {
					bi, bj, bg = i, j, gain[i][j]
				}
			}
		}
		if bg < 0 && alive <= MaxBuckets {
			break
		}
		// Merge i into j.
		for s := range cl[bj].hist {
			cl[bj].hist[s] += cl[bi].hist[s]
		}
		cl[bj].n += cl[bi].n
		cl[bj].nz = nonZero(cl[bj].nz[:0], &cl[bj].hist)
		cl[bj].cost -= bg - cl[bi].cost
		cl[bi].alive = false
		alive--
		for v := range owner {
			if owner[v] == bi {
				owner[v] = bj
			}
		}
		for k := range cl {
			if k != bj && cl[k].alive {
				g := gainOf(k, bj)
				if k < bj {
					gain[bj][k] = g
				} else {
					gain[k][bj] = g
				}
			}
		}
	}
	if alive < 2 {
		return 0
	}
	// Number the clusters left 0 .. alive-1.
	var id [maxContexts + 1]uint8
	n := 0
	total := 0.0
	for i := range cl {
		if cl[i].alive {
			id[i] = uint8(n)
			n++
			total += cl[i].cost
		}
	}
	if total >= histCost(&whole.hist, whole.n)*(1-preferContext) {
		return 0
	}
	for v := range bucket {
		bucket[v] = id[owner[v]]
	}
	return n
}

// laneStart is where lane l of a block of n bytes starts.
func laneStart(n, l int) int { return l * n / lanes }

// appendContext appends blk as a Context block, or returns dst unchanged
// when the estimate says one table does as well.
func (e *Encoder) appendContext(dst, blk []byte) []byte {
	var bucket [256]uint8
	k := e.contextMap(blk, &bucket)
	if k == 0 {
		return dst
	}
	// count[l][c]: lane l's bytes in bucket c.
	var count [lanes][MaxBuckets]int
	for l := range lanes {
		prev := byte(0)
		for _, b := range blk[laneStart(len(blk), l):laneStart(len(blk), l+1)] {
			count[l][bucket[prev]]++
			prev = b
		}
	}
	// The bytes sorted by bucket, then lane.
	var pos [lanes][MaxBuckets]int
	var start [MaxBuckets + 1]int
	for c := range k {
		at := start[c]
		for l := range lanes {
			pos[l][c] = at
			at += count[l][c]
		}
		start[c+1] = at
	}
	e.ctx = append(e.ctx[:0], make([]byte, len(blk))...)
	for l := range lanes {
		prev := byte(0)
		for _, b := range blk[laneStart(len(blk), l):laneStart(len(blk), l+1)] {
			c := bucket[prev]
			e.ctx[pos[l][c]] = b
			pos[l][c]++
			prev = b
		}
	}
	at := len(dst)
	dst = appendHeader(dst, Context, len(blk), 0)
	dst = append(dst, byte(k))
	for v := 0; v < 256; v += 2 {
		dst = append(dst, bucket[v]|bucket[v+1]<<4)
	}
	for c := range k {
		for l := range lanes - 1 {
			dst = binary.AppendUvarint(dst, uint64(count[l][c]))
		}
	}
	for c := range k {
		dst = e.appendPlain(dst, e.ctx[start[c]:start[c+1]])
	}
	binary.BigEndian.PutUint32(dst[at+5:], uint32(len(dst)-at-HeaderLen))
	return dst
}

// contextLayout is what a Context block's rebuild needs besides its
// buckets' bytes: the bucket of each previous byte value, and where each
// lane's bytes of each bucket start and end in the buckets' bytes.
type contextLayout struct {
	bucket   [256]uint8
	pos, end [lanes][MaxBuckets]int
}

// context decodes a Context block.
func (d *Decoder) context(dst []byte, rawLen int, data []byte) ([]byte, error) {
	var lay contextLayout
	if err := d.contextBuckets(rawLen, data, &lay); err != nil {
		return nil, err
	}
	out := assemble(dst, &d.unp, rawLen)
	if !rebuildLanes(out, d.ctx, &lay) {
		return nil, fmt.Errorf("%w: context block: a bucket is shorter than its contexts", ErrFormat)
	}
	return out, nil
}

// contextBuckets decodes a Context block's buckets into d.ctx, in
// order, and their layout into lay.
func (d *Decoder) contextBuckets(rawLen int, data []byte, lay *contextLayout) error {
	if len(data) < 1+mapLen || data[0] < 2 || data[0] > MaxBuckets {
		return fmt.Errorf("%w: context block without a bucket count", ErrFormat)
	}
	k := int(data[0])
	for i, b := range data[1 : 1+mapLen] {
		lay.bucket[2*i], lay.bucket[2*i+1] = b&15, b>>4
		if int(b&15) >= k || int(b>>4) >= k {
			return fmt.Errorf("%w: context block: bucket out of range", ErrFormat)
		}
	}
	subs := data[1+mapLen:]
	var count [lanes][MaxBuckets]int
	for c := range k {
		for l := range lanes - 1 {
			v, n := binary.Uvarint(subs)
			if n <= 0 || v > uint64(rawLen) {
				return fmt.Errorf("%w: context block: bad lane count", ErrFormat)
			}
			count[l][c] = int(v)
			subs = subs[n:]
		}
	}
	if d.ctx == nil {
		d.ctx = new([catLen]byte)
	}
	cat := d.ctx[:0:MaxBlock]
	for c := range k {
		if len(subs) < HeaderLen {
			return fmt.Errorf("%w: context block: bucket %d cut", ErrFormat, c)
		}
		mode, subRaw, subData, err := Header(subs)
		if err != nil {
			return err
		}
		if (mode != Stored && mode != FSE && mode != RLE && mode != Huffman) || subRaw > rawLen-len(cat) || subData > len(subs)-HeaderLen {
			return fmt.Errorf("%w: context block: bad block for bucket %d", ErrFormat, c)
		}
		sub, err := d.plain(mode, subRaw, subs[HeaderLen:HeaderLen+subData])
		if err != nil {
			return err
		}
		// The last lane has what the others leave.
		at, rest := len(cat), subRaw
		for l := range lanes {
			if l == lanes-1 {
				count[l][c] = rest
			} else if count[l][c] > rest {
				return fmt.Errorf("%w: context block: lane counts exceed bucket %d", ErrFormat, c)
			}
			rest -= count[l][c]
			lay.pos[l][c] = at
			at += count[l][c]
			lay.end[l][c] = at
		}
		cat = append(cat, sub...)
		subs = subs[HeaderLen+subData:]
	}
	if len(cat) != rawLen || len(subs) != 0 {
		return fmt.Errorf("%w: context block: buckets hold %d of its %d bytes, %d bytes after them", ErrFormat, len(cat), rawLen, len(subs))
	}
	return nil
}

// rebuildLanes rebuilds a Context block into out from its buckets' bytes
// in cat, lane l taking the bytes of bucket c from pos[l][c] up to
// end[l][c]. It returns false when a lane runs out. The four lanes are
// rebuilt together: each byte's bucket depends on the byte before, and
// four independent chains of loads (position, byte, bucket) keep the
// processor busy.
//
// The chains must stay in registers: with a slice per lane and the
// positions behind pointers, the compiler spilled the lanes' buckets to
// the stack, a store and a load more on every chain. The positions are
// in a local array indexed by a byte (so neither a bounds check nor a
// mask: bucket holds values below MaxBuckets only), and the lanes'
// outputs are cut to the shortest lane, so their indexes need no check.
//
// Nor does the loop compare positions with their ends: positions only
// grow, so a lane that ran past a bucket's end is still past it at the
// end, where one pass over p and end finds it; out is then cleared, so
// that no byte read meanwhile (possibly a stale one of an earlier block)
// is left in the caller's buffer with the error. Until then such a lane
// reads other buckets' bytes, or stale bytes past the block's, but never
// past cat: a lane's positions move by its length in all, at most
// MaxBlock/lanes+1, from starts at most MaxBlock, so reads stay below
// MaxBlock+MaxBlock/lanes+1 = catLen (the bounds checks against catLen
// stay, as a backstop).
//
// BenchmarkRebuildLanes, one MaxBlock block: 390-406 us before, 252-266
// after (same load). Dropping only the comparisons changed nothing
// measurable; reading pairs of (next bucket, byte), two loads per chain
// instead of three, made the loop 15% faster but the pass making the
// pairs cost more than that.
func rebuildLanes(out []byte, cat *[catLen]byte, lay *contextLayout) bool {
	n := len(out)
	bucket := &lay.bucket
	var p [lanes][256]int
	for l := range lanes {
		copy(p[l][:MaxBuckets], lay.pos[l][:])
	}
	first := bucket[0]
	c0, c1, c2, c3 := first, first, first, first
	m := n / lanes // the shortest lane's length
	o0 := out[laneStart(n, 0):][:m]
	o1 := out[laneStart(n, 1):][:m]
	o2 := out[laneStart(n, 2):][:m]
	o3 := out[laneStart(n, 3):][:m]
	for i := range o0 {
		q0, q1, q2, q3 := p[0][c0], p[1][c1], p[2][c2], p[3][c3]
		p[0][c0], p[1][c1], p[2][c2], p[3][c3] = q0+1, q1+1, q2+1, q3+1
		v0, v1, v2, v3 := cat[q0], cat[q1], cat[q2], cat[q3]
		c0, c1, c2, c3 = bucket[v0], bucket[v1], bucket[v2], bucket[v3]
		o0[i], o1[i], o2[i], o3[i] = v0, v1, v2, v3
	}
	// The lanes longer than m have one byte more.
	for l, c := range [lanes]byte{c0, c1, c2, c3} {
		for i := laneStart(n, l) + m; i < laneStart(n, l+1); i++ {
			q := p[l][c]
			p[l][c] = q + 1
			out[i] = cat[q]
			c = bucket[cat[q]]
		}
	}
	for l := range lanes {
		for c := range MaxBuckets {
			if p[l][c] > lay.end[l][c] {
				clear(out)
				return false
			}
		}
	}
	return true
}
