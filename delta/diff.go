package delta

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	"math/bits"

	"github.com/klauspost/compress/zstd"
)

// Diff tuning.
const (
	defaultChunk = 256 << 20
	// segmentOut is the target bytes per patch segment Diff writes.
	segmentOut = 16 << 20
	// sampleLen is how much of each piece the coder's cost estimate reads.
	sampleLen = 16 << 10
	// encoderWindow is the zstd window of the streams; Apply's decoders
	// need about this much memory each. Measured on the 64 MiB pairs,
	// 2 MiB gives patches within 0.02% of 4 MiB's (weights rarely repeat
	// at a distance) and saves Apply 4 MiB.
	encoderWindow = 2 << 20
)

func diff(old io.ReaderAt, oldLen int64, nw io.ReaderAt, newLen int64, patch io.Writer, opts Options) (*Stats, error) {
	chunk := opts.ChunkSize
	if chunk <= 0 {
		chunk = defaultChunk
	}
	chunk = (chunk + ShuffleBlock - 1) / ShuffleBlock * ShuffleBlock
	h := Header{BaseLength: oldLen, TargetLength: newLen}
	if err := hashBoth(old, oldLen, nw, newLen, &h); err != nil {
		return nil, err
	}
	w := &patchWriter{w: patch, stats: &Stats{}, dump: opts.dump}
	if err := w.write(h.marshal()); err != nil {
		return nil, err
	}
	margin := chunk / 2
	w.stats.Chunked = newLen > chunk || oldLen > chunk+2*margin
	// Measured on the streams of 64 MiB model pairs (docs/delta.md): zstd's
	// best level is 0.5-2% smaller than its "better" level for 4x the
	// time, and within 2% of xz -9 and bzip2 -9, which decompress 5-10x
	// slower. Patches are made once and downloaded by every device, so
	// the best level is the default (but see bestMinGain: the default
	// level's frames decode 3x faster); the bounded mode for huge files
	// trades those percent for time.
	level := zstd.SpeedBestCompression
	if w.stats.Chunked {
		level = zstd.SpeedBetterCompression
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithWindowSize(encoderWindow), zstd.WithEncoderConcurrency(2))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	w.enc = enc
	if level == zstd.SpeedBestCompression {
		fast, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(encoderWindow), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer fast.Close()
		w.fastEnc = fast
	}
	// The buffers are allocated once, at their largest, and reused by
	// every chunk: garbage of this size would let the heap double.
	var oldBuf, newBuf []byte
	var mt matcher
	for cs := int64(0); cs < newLen; cs += chunk {
		ce := min(cs+chunk, newLen)
		ws, we := max(0, cs-margin), min(oldLen, ce+margin)
		if !w.stats.Chunked {
			ws, we = 0, oldLen
		}
		if ws > we {
			ws = we
		}
		if oldBuf == nil {
			oldBuf = make([]byte, min(oldLen, chunk+2*margin))
			if !w.stats.Chunked {
				oldBuf = make([]byte, oldLen)
			}
			newBuf = make([]byte, min(newLen, chunk))
			// The anchor index too: the first window is the smallest.
			mt.reserve(len(oldBuf))
		}
		oldWin := oldBuf[:we-ws]
		if err := readFull(old, oldWin, ws); err != nil {
			return nil, fmt.Errorf("reading the old file: %w", err)
		}
		newChunk := newBuf[:ce-cs]
		if err := readFull(nw, newChunk, cs); err != nil {
			return nil, fmt.Errorf("reading the new file: %w", err)
		}
		ms := mt.findMatches(oldWin, newChunk)
		c := coder{old: oldWin, oldBase: ws, new: newChunk, newBase: cs, w: w}
		if err := c.code(ms); err != nil {
			return nil, err
		}
	}
	if err := w.flush(); err != nil {
		return nil, err
	}
	return w.stats, nil
}

func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// hashBoth computes both files' SHA-256, in parallel.
func hashBoth(old io.ReaderAt, oldLen int64, nw io.ReaderAt, newLen int64, h *Header) error {
	errc := make(chan error, 1)
	go func() {
		s := sha256.New()
		_, err := io.CopyBuffer(s, io.NewSectionReader(old, 0, oldLen), make([]byte, 1<<20))
		s.Sum(h.BaseSHA256[:0])
		errc <- err
	}()
	s := sha256.New()
	_, err := io.CopyBuffer(s, io.NewSectionReader(nw, 0, newLen), make([]byte, 1<<20))
	s.Sum(h.TargetSHA256[:0])
	if oerr := <-errc; oerr != nil {
		return fmt.Errorf("reading the old file: %w", oerr)
	}
	if err != nil {
		return fmt.Errorf("reading the new file: %w", err)
	}
	return nil
}

// match is an exact match: new[newPos:newPos+n] == old[oldPos:oldPos+n]
// (chunk and window coordinates).
type match struct {
	newPos, oldPos, n int
}

// matcher keeps the anchor index between chunks.
type matcher struct {
	table []uint64
}

// tables returns the zeroed hash table (hash tag in the high 32 bits,
// position+1 in the low 32) for an old window of oldLen bytes, reusing
// the previous one's memory.
func (mt *matcher) tables(oldLen int) []uint64 {
	mt.reserve(oldLen)
	mt.table = mt.table[:tableSize(oldLen)]
	clear(mt.table)
	return mt.table
}

// reserve allocates the table for old windows of up to oldLen bytes.
func (mt *matcher) reserve(oldLen int) {
	if n := tableSize(oldLen); cap(mt.table) < n {
		mt.table = make([]uint64, n)
	}
}

// tableSize is the number of slots of the anchor index of an old window
// of oldLen bytes: a power of two, at least twice the expected anchors.
func tableSize(oldLen int) int {
	expect := oldLen>>anchorBits + 1
	return 1 << bits.Len(uint(expect*2-1))
}

// Rolling hash over blockSize bytes: h = sum b[i]*hashMul^(B-1-i).
const hashMul = 0x100000001b3

// findMatches finds exact matches of at least blockSize bytes between
// new and old. Anchors are the positions whose rolling hash over the next
// B bytes has anchorBits zero bits at a fixed place: they depend on
// content only, so data that moved keeps its anchors. Every anchor of old
// is indexed; a rolling hash over new looks up new's anchors, and a hit is
// verified and extended both ways. Time is linear in the sizes (one
// multiply-add per byte, a table probe per anchor); the index costs 16
// bytes per 2^anchorBits bytes of old. A matching region is found unless
// it holds no anchor, which for a region of L bytes happens with
// probability about exp(-L/32).
func (mt *matcher) findMatches(old, nw []byte) []match {
	const B = 32
	if len(old) < B || len(nw) < B {
		return nil
	}
	table := mt.tables(len(old))
	mask := uint64(len(table) - 1)
	tshift := 64 - (bits.Len(uint(len(table))) - 1)
	pow := uint64(1)
	for i := 0; i < B-1; i++ {
		pow *= hashMul
	}
	h := blockHash(old[:B])
	for i := 0; ; i++ {
		if m := h * mixMul; isAnchor(m) {
			insert(table, mask, m>>tshift, h, i, old)
		}
		if i+B >= len(old) {
			break
		}
		h = (h-uint64(old[i])*pow)*hashMul + uint64(old[i+B])
	}
	var ms []match
	lastEnd := 0
	p := 0
	h = blockHash(nw[:B])
	for {
		if m := h * mixMul; isAnchor(m) {
			if o, ok := lookup(table, mask, m>>tshift, h, old, nw[p:p+B]); ok {
				s, so := p, o
				for s > lastEnd && so > 0 && nw[s-1] == old[so-1] {
					s--
					so--
				}
				e, eo := p+B, o+B
				for e < len(nw) && eo < len(old) && nw[e] == old[eo] {
					e++
					eo++
				}
				ms = append(ms, match{newPos: s, oldPos: so, n: e - s})
				lastEnd = e
				p = e
				if p+B > len(nw) {
					break
				}
				h = blockHash(nw[p : p+B])
				continue
			}
		}
		if p+B >= len(nw) {
			break
		}
		h = (h-uint64(nw[p])*pow)*hashMul + uint64(nw[p+B])
		p++
	}
	return ms
}

// anchorBits sets the anchor density: one position in 2^anchorBits.
const anchorBits = 5

// mixMul scrambles the rolling hash, whose low bits are weak, before its
// bits choose anchors and table slots.
const mixMul = 0x9E3779B97F4A7C15

// isAnchor tests bits 20.. of the mixed hash; table slots use the top bits.
func isAnchor(m uint64) bool { return (m>>20)&(1<<anchorBits-1) == 0 }

// insert indexes position i of old under hash h, unless the same bytes
// are already indexed.
func insert(table []uint64, mask, slot, h uint64, i int, old []byte) {
	tag := h >> 32
	for probe := 0; probe < 16; slot, probe = (slot+1)&mask, probe+1 {
		e := table[slot]
		if e == 0 {
			table[slot] = tag<<32 | uint64(i+1)
			return
		}
		if e>>32 == tag && bytes.Equal(old[int(e&0xffffffff)-1:][:32], old[i:][:32]) {
			return
		}
	}
}

func blockHash(b []byte) uint64 {
	var h uint64
	for _, c := range b {
		h = h*hashMul + uint64(c)
	}
	return h
}

func lookup(table []uint64, mask, slot, h uint64, old, want []byte) (int, bool) {
	tag := h >> 32
	for probe := 0; probe < 16; slot, probe = (slot+1)&mask, probe+1 {
		e := table[slot]
		if e == 0 {
			return 0, false
		}
		if e>>32 == tag {
			o := int(e&0xffffffff) - 1
			if bytes.Equal(old[o:o+len(want)], want) {
				return o, true
			}
		}
	}
	return 0, false
}

// coder turns matches into records: COPY for matches, and for the gaps
// between them, per piece, whichever of XOR, SUB (widths 1, 2, 4, against
// the base at the offset of the match before, the match after, or the
// same offset) or INSERT the estimate says compresses best.
type coder struct {
	old     []byte
	oldBase int64
	new     []byte
	newBase int64
	w       *patchWriter

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
			if err := c.gap(pos, m.newPos, deltas); err != nil {
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
		if err := c.gap(pos, len(c.new), deltas); err != nil {
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
	bestCost := entropyBest(src, al2, al4, &best.width) * 0.99
	if best.width == 0 {
		best.width = 1
	}
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
	if al2 {
		if c := entropy(&h2a) + entropy(&h2b); c < best {
			best, *w = c, 2
		}
	}
	if al4 {
		if c := entropy(&hist[0]) + entropy(&hist[1]) + entropy(&hist[2]) + entropy(&hist[3]); c < best {
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

// patchWriter collects records into segments and writes them.
type patchWriter struct {
	w   io.Writer
	enc *zstd.Encoder
	// fastEnc, when set, codes diff and extra streams at zstd's default
	// level, whose frames decode about 3x faster than the best level's on
	// weight data; its output is kept unless enc's is bestMinGain smaller.
	fastEnc *zstd.Encoder
	stats   *Stats
	n       int64 // bytes written
	// dump is Options.dump.
	dump func(ctrl, diff, extra []byte)

	ctrl, diff, extra []byte
	outLen            int64
	tmp, tmp2         []byte
	comp              [3][]byte // compressed streams, reused
	fse               []byte    // a stream's FSE coding, reused
	fast              []byte    // a stream's fastEnc coding, reused
}

func (pw *patchWriter) write(b []byte) error {
	n, err := pw.w.Write(b)
	pw.n += int64(n)
	return err
}

// add appends record r producing data (target offset at) to the current
// segment, splitting it at segment boundaries; old is the base window
// starting at oldBase.
func (pw *patchWriter) add(r record, data, old []byte, oldBase, at int64) error {
	if pw.tmp == nil {
		pw.tmp, pw.tmp2 = make([]byte, ShuffleBlock), make([]byte, ShuffleBlock)
	}
	for r.length > 0 {
		room := segmentOut - pw.outLen
		part := r
		part.length = min(r.length, room)
		pw.ctrl = appendRecord(pw.ctrl, part)
		pw.stats.Records++
		switch part.op {
		case opCopy:
			pw.stats.Copied += part.length
		case opInsert:
			pw.stats.Inserted += part.length
		case opXOR:
			pw.stats.XORed += part.length
		case opSub:
			pw.stats.Subbed += part.length
		}
		if part.op != opCopy {
			end := at + part.length
			for pos := at; pos < end; {
				pe := pieceEnd(pos, end)
				n := int(pe - pos)
				src := data[pos-at : pos-at+int64(n)]
				t := pw.tmp[:n]
				switch part.op {
				case opInsert:
					shuffle(t, src, int(part.width))
					pw.extra = append(pw.extra, t...)
				default:
					ob := old[part.offset-oldBase+(pos-at):][:n]
					d := pw.tmp2[:n]
					if part.op == opXOR {
						encodeXOR(d, src, ob)
					} else {
						encodeSub(d, src, ob, int(part.width))
					}
					shuffle(t, d, int(part.width))
					pw.diff = append(pw.diff, t...)
				}
				pos = pe
			}
		}
		pw.outLen += part.length
		data = data[part.length:]
		at += part.length
		r.length -= part.length
		if r.op != opInsert {
			r.offset += part.length
		}
		if pw.outLen == segmentOut {
			if err := pw.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// bestMinGain is how much smaller (as a share) the best level's coding
// of a diff or extra stream must be to be kept over the default level's.
// Measured on the fine-tune pair's diff stream (docs/delta.md): the best
// level saves 0.5% but its frames take 53 ms to decode per 64 MiB, against
// 18 ms for the default level's, which decides whether apply keeps up
// with the disk. On the other pairs the best level wins by more, or FSE
// wins outright.
const bestMinGain = 0.01

func (pw *patchWriter) flush() error {
	if pw.dump != nil && pw.outLen > 0 {
		pw.dump(pw.ctrl, pw.diff, pw.extra)
	}
	if pw.outLen == 0 {
		pw.stats.PatchLength = pw.n
		return nil
	}
	var streams [3][]byte
	for i, s := range [][]byte{pw.ctrl, pw.diff, pw.extra} {
		if len(s) > 0 {
			pw.comp[i] = pw.enc.EncodeAll(s, pw.comp[i][:0])
			streams[i] = pw.comp[i]
			if i > 0 && pw.fastEnc != nil {
				pw.fast = pw.fastEnc.EncodeAll(s, pw.fast[:0])
				if float64(len(pw.fast)) <= float64(len(streams[i]))*(1+bestMinGain) {
					pw.comp[i], pw.fast = pw.fast, pw.comp[i]
					streams[i] = pw.comp[i]
				}
			}
			if i > 0 {
				// Order-0 FSE wins on bytes with no repeats (new int8
				// weights); zstd wins wherever matches help.
				pw.fse = appendFSE(pw.fse[:0], s)
				if len(pw.fse) < len(streams[i]) {
					pw.comp[i] = append(pw.comp[i][:0], pw.fse...)
					streams[i] = pw.comp[i]
				}
			}
		}
	}
	sh := segmentHeader{outLen: uint32(pw.outLen), ctrlLen: uint32(len(streams[0])), diffLen: uint32(len(streams[1])), extraLen: uint32(len(streams[2]))}
	if err := pw.write(sh.marshal()); err != nil {
		return err
	}
	for _, s := range streams {
		if err := pw.write(s); err != nil {
			return err
		}
	}
	pw.stats.Segments++
	pw.ctrl, pw.diff, pw.extra = pw.ctrl[:0], pw.diff[:0], pw.extra[:0]
	pw.outLen = 0
	pw.stats.PatchLength = pw.n
	return nil
}
