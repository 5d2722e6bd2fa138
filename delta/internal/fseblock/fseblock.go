// Package fseblock codes the blocks of a delta FSE stream: order-0
// entropy coding (finite state entropy, the tANS coder inside zstd) of
// blocks of at most MaxBlock bytes, with one table per block, or, for a
// block made of runs of different kinds of bytes (the byte planes of
// shuffled words: sign and exponent bytes, high and low mantissa bytes),
// one table per kind.
//
// A single table over mixed planes codes each byte at the entropy of the
// mixture, which is well above the mean of the planes' own: on the
// fine-tune pair's diff stream (docs/delta.md) one table per 256 KiB
// block gives 41.5 MB and one table per plane 32.9 MB.
//
// A block is
//
//	mode        1 byte: 0 Stored, 1 FSE, 2 RLE (one byte repeated),
//	            3 Planes, 4 Huffman, 5 Packed, 6 Zstd, 7 Context
//	            (context.go), 8 Adaptive (adaptive.go)
//	raw length  4 bytes (big-endian), 1 .. MaxBlock (Huffman: less than
//	            MaxBlock)
//	data length 4 bytes (big-endian): raw length when Stored, 1 when RLE,
//	            1 .. MaxBlock for FSE, Planes, Huffman and Zstd,
//	            10 .. MaxBlock for Packed, 147 .. MaxBlock for Context,
//	            8 .. MaxBlock for Adaptive
//	data        FSE: an fse.Compress block; Huffman: a huff0.Compress4X
//	            block, its table included; Packed: the symbol width
//	            (1 byte: 1, 2 or 4 bits), then a Stored, FSE, RLE or
//	            Huffman block of the symbols packed into
//	            ceil(raw length * width / 8) bytes, the first symbol in the
//	            low bits of the first byte; Zstd: zstd frames decoding
//	            to raw length bytes, with a window of at most MaxBlock
//
// Huffman codes each byte in a whole number of bits, but decodes about 4
// times faster than FSE (1.3 GB/s against 330 MB/s on the fine-tune
// pair's planes): Apply keeps up with a file copy only if most bytes are
// Huffman coded, so the encoder takes FSE only where it is preferFSE
// smaller (skewed planes, such as the near-zero high bytes of small
// differences). Such planes often hold only a few small values: packed
// 4 or 8 to a byte, they are 4 or 8 times fewer symbols to decode.
//
// and the data of a Planes block is
//
//	classes     1 byte, 1 .. MaxClasses
//	spans       uvarint, 1 .. raw length
//	each span:  class 1 byte (< classes), length uvarint (>= 1)
//	one block per class, in class order, in mode Stored, FSE, RLE,
//	Huffman, Packed or Context, whose raw length is the sum of that
//	class's span lengths
//
// The spans, in order, cover the raw block exactly; each class's bytes
// are its spans' bytes in order.
package fseblock

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/edgetuf/edgetuf/delta/internal/cm"
	"github.com/klauspost/compress/fse"
	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"
)

// Block modes.
const (
	Stored   = 0
	FSE      = 1
	RLE      = 2
	Planes   = 3
	Huffman  = 4
	Packed   = 5
	Zstd     = 6
	Context  = 7
	Adaptive = 8
)

const (
	// MaxBlock is the largest raw block.
	MaxBlock = 256 << 10
	// MaxClasses is the most tables a Planes block holds.
	MaxClasses = 8
	// HeaderLen is the length of a block header.
	HeaderLen = 9
	// preferFSE is how much smaller (as a share) FSE's coding of a block
	// must be than Huffman's to be kept.
	preferFSE = 0.01
	// preferPacked is how much larger (as a share) a Packed coding of a
	// block may be than the best unpacked one and still be kept: it
	// decodes 4 or 8 times fewer symbols. On the fine-tune pair's
	// near-zero plane (200 KB of 64 MiB) it is 2-15% larger, and decodes
	// 3x faster.
	preferPacked = 0.15
	// zstdTrialSlack is how much larger (as a share) than a block's
	// coding zstd's fastest level may code it and the best level still
	// be tried.
	zstdTrialSlack = 0.30
)

// ErrFormat is wrapped by every decoding error.
var ErrFormat = errors.New("malformed FSE block")

// A Span is a run of Len bytes of one class (one kind of byte plane).
type Span struct {
	Class uint8
	Len   int
}

// Encoder codes blocks; its zero value is ready, and it reuses its buffers.
type Encoder struct {
	s         fse.Scratch
	h         huff0.Scratch
	planes    []byte
	sub       []byte
	sub2      []byte
	pack      []byte
	spans     []Span
	spansCopy []Span
	ctx       []byte // a Context block's bytes, sorted by bucket
	ctxOut    []byte
	// noContext turns off Context trials (for a block of several planes).
	noContext bool
	// hist, clusters and gain are a Context block's clustering tables.
	hist     *[256][256]int
	clusters []cluster
	gain     []float64
	// MaxAdaptive is how many more raw bytes may be coded as Adaptive
	// blocks (0: none): they decode slowly, and the caller decides how
	// much of that Apply may spend.
	MaxAdaptive int
	cm          *cm.Encoder
	adaptive    []byte
	// Fast and Best code Zstd blocks: Fast (a fast level) tells whether
	// a zstd frame may beat the block's other codings, Best makes it. When
	// nil, they are made at first use, with a MaxBlock window; a caller
	// that has encoders already passes them (a best-level encoder holds
	// 32 MiB of tables).
	Fast, Best *zstd.Encoder
}

// AppendBlocks appends to dst the blocks coding raw, each block in the
// smallest of its modes, as one stream (Adaptive blocks start from
// a reset model). spans (lengths adding up to len(raw), at most
// MaxClasses distinct classes) tells which bytes are of which class; nil
// means one class.
func (e *Encoder) AppendBlocks(dst, raw []byte, spans []Span) []byte {
	if e.cm != nil {
		e.cm.Reset()
	}
	var carry Span
	for len(raw) > 0 {
		blk := raw[:min(len(raw), MaxBlock)]
		raw = raw[len(blk):]
		// The spans of this block, the one crossing its end cut in two.
		bs := e.spans[:0]
		for n := 0; n < len(blk) && (carry.Len > 0 || len(spans) > 0); {
			if carry.Len == 0 {
				carry, spans = spans[0], spans[1:]
			}
			l := min(carry.Len, len(blk)-n)
			bs = append(bs, Span{carry.Class, l})
			carry.Len -= l
			n += l
		}
		e.spans = bs
		start := len(dst)
		dst = e.appendSplit(dst, blk, bs)
		dst = e.tryAdaptive(dst, start, blk, bs)
	}
	return dst
}

// tryZstd replaces the block coded at dst[start:] with a zstd frame of
// blk when that is smaller: text, code and tables repeat. zstd's fastest
// level tells cheaply whether it might be (on weights it is far behind);
// it gives up on short repeats that the best level finds, hence the
// slack.
func (e *Encoder) tryZstd(dst []byte, start int, blk []byte) []byte {
	// Frames of up to MinWindowSize bytes name the encoder's window, which
	// may exceed the decoder's MaxBlock; larger ones are single segments.
	if len(blk) <= zstd.MinWindowSize {
		return dst
	}
	if e.Fast == nil {
		e.Fast, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(MaxBlock), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
	}
	if e.Best == nil {
		e.Best, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(MaxBlock), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
	}
	have := len(dst) - start - HeaderLen
	e.sub = e.Fast.EncodeAll(blk, e.sub[:0])
	// The best level is tried unless the fastest is far behind, or the
	// block barely compresses and the fastest found no repeat at all.
	if float64(len(e.sub)) >= float64(have)*(1+zstdTrialSlack) ||
		(len(e.sub) >= len(blk) && float64(have) >= 0.97*float64(len(blk))) {
		return dst
	}
	if e.sub2 = e.Best.EncodeAll(blk, e.sub2[:0]); len(e.sub2) < len(e.sub) {
		e.sub, e.sub2 = e.sub2, e.sub
	}
	if len(e.sub) >= have {
		return dst
	}
	dst = appendHeader(dst[:start], Zstd, len(blk), len(e.sub))
	return append(dst, e.sub...)
}

// appendSingle appends blk as one block of mode Stored, FSE, RLE,
// Huffman or Packed.
func (e *Encoder) appendSingle(dst, blk []byte) []byte {
	start := len(dst)
	dst = e.appendPlain(dst, blk)
	var top byte
	for _, b := range blk {
		top |= b
	}
	bits := 4
	switch {
	case top >= 16 || len(blk) < 64:
		return e.tryContext(dst, start, blk)
	case top < 2:
		bits = 1
	case top < 4:
		bits = 2
	}
	// Fewer symbols decode faster: keep the packing unless it is
	// preferPacked larger.
	e.pack = pack(e.pack[:0], blk, bits)
	e.sub2 = appendHeader(e.sub2[:0], Packed, len(blk), 0)
	e.sub2 = append(e.sub2, byte(bits))
	e.sub2 = e.appendPlain(e.sub2, e.pack)
	if float64(len(e.sub2)) <= float64(len(dst)-start)*(1+preferPacked) {
		binary.BigEndian.PutUint32(e.sub2[5:], uint32(len(e.sub2)-HeaderLen))
		dst = append(dst[:start], e.sub2...)
	}
	return e.tryContext(dst, start, blk)
}

// tryContext replaces the block coded at dst[start:] with a Context
// block of blk when that is preferContext smaller.
func (e *Encoder) tryContext(dst []byte, start int, blk []byte) []byte {
	if len(blk) < minContext || e.noContext {
		return dst
	}
	e.ctxOut = e.appendContext(e.ctxOut[:0], blk)
	if len(e.ctxOut) > 0 && float64(len(e.ctxOut)) < float64(len(dst)-start)*(1-preferContext) {
		dst = append(dst[:start], e.ctxOut...)
	}
	return dst
}

// pack packs the bits-bit symbols of blk into bytes, the first symbol in
// the low bits of the first byte.
func pack(dst, blk []byte, bits int) []byte {
	per := 8 / bits
	for i := 0; i < len(blk); i += per {
		var b byte
		for j, x := range blk[i:min(i+per, len(blk))] {
			b |= x << (j * bits)
		}
		dst = append(dst, b)
	}
	return dst
}

// appendPlain appends blk as one block of mode Stored, FSE, RLE or
// Huffman.
func (e *Encoder) appendPlain(dst, blk []byte) []byte {
	out, err := fse.Compress(blk, &e.s)
	mode, data := byte(FSE), out
	switch {
	case err == fse.ErrUseRLE:
		mode, data = RLE, blk[:1]
	case err != nil || len(out) >= len(blk):
		mode, data = Stored, blk
	}
	if mode != RLE && len(blk) <= huff0.BlockSizeMax {
		e.h.Reuse = huff0.ReusePolicyNone
		if h, _, err := huff0.Compress4X(blk, &e.h); err == nil && float64(len(data)) > float64(len(h))*(1-preferFSE) && len(h) < len(blk) {
			mode, data = Huffman, h
		}
	}
	dst = appendHeader(dst, mode, len(blk), len(data))
	return append(dst, data...)
}

func appendHeader(dst []byte, mode byte, rawLen, dataLen int) []byte {
	dst = append(dst, mode)
	dst = binary.BigEndian.AppendUint32(dst, uint32(rawLen))
	return binary.BigEndian.AppendUint32(dst, uint32(dataLen))
}

// appendPlanes appends blk as a Planes block of the classes in spans.
func (e *Encoder) appendPlanes(dst, blk []byte, spans []Span) []byte {
	start := len(dst)
	dst = appendHeader(dst, Planes, len(blk), 0)
	dst = appendSpans(dst, spans, true)
	for c := uint8(0); c < dst[start+HeaderLen]; c++ {
		e.planes = e.planes[:0]
		pos := 0
		for _, s := range spans {
			if s.Class == c {
				e.planes = append(e.planes, blk[pos:pos+s.Len]...)
			}
			pos += s.Len
		}
		dst = e.appendSingle(dst, e.planes)
	}
	binary.BigEndian.PutUint32(dst[start+5:], uint32(len(dst)-start-HeaderLen))
	return dst
}

// Header parses a block header and checks its lengths against each other.
func Header(h []byte) (mode byte, rawLen, dataLen int, err error) {
	mode = h[0]
	rawLen = int(binary.BigEndian.Uint32(h[1:]))
	dataLen = int(binary.BigEndian.Uint32(h[5:]))
	if rawLen == 0 || rawLen > MaxBlock {
		return 0, 0, 0, fmt.Errorf("%w: block of %d bytes", ErrFormat, rawLen)
	}
	switch {
	case mode == Stored && dataLen == rawLen, mode == RLE && dataLen == 1,
		(mode == FSE || mode == Planes) && dataLen >= 1 && dataLen <= MaxBlock,
		mode == Huffman && rawLen <= huff0.BlockSizeMax && dataLen >= 1 && dataLen <= MaxBlock,
		mode == Packed && dataLen >= 1+HeaderLen && dataLen <= MaxBlock,
		mode == Zstd && dataLen >= 1 && dataLen <= MaxBlock,
		mode == Context && dataLen >= 1+mapLen+2*HeaderLen && dataLen <= MaxBlock,
		mode == Adaptive && dataLen >= minAdaptiveData && dataLen <= MaxBlock:
		return mode, rawLen, dataLen, nil
	}
	return 0, 0, 0, fmt.Errorf("%w: block mode %d with %d data bytes for %d", ErrFormat, mode, dataLen, rawLen)
}

// Decoder decodes blocks; its zero value is ready, and it reuses its
// buffers (at most 3 x MaxBlock bytes and a Context block's buckets,
// catLen: 1.06 MiB, besides the zstd decoder and the adaptive model,
// cm.TableBytes).
type Decoder struct {
	s   fse.Scratch
	h   huff0.Scratch
	out []byte
	huf []byte
	unp []byte
	ctx *[catLen]byte // a Context block's sub-streams (context.go)
	// cm decodes Adaptive blocks; made at first use (cm.TableBytes),
	// reset at the first of each stream (cmStale).
	cm      *cm.Decoder
	cmStale bool
	// z decodes Zstd blocks, at most MaxBlock bytes each; made at first use.
	z *zstd.Decoder
	// Tables is how many Stored, FSE, RLE or Huffman blocks the last
	// Decode call decoded, the block itself or those nested in it (Planes
	// classes, Context buckets, a Packed block's inner block): each has
	// a table to read or a fixed cost, which Apply charges as work.
	Tables int
}

// Decode decodes a block of the given mode and raw length from data (its
// data, checked by Header). The result is valid until the next call; it
// may alias data, or dst when len(dst) >= rawLen (Planes and Packed
// blocks are assembled there, saving a copy).
func (d *Decoder) Decode(dst []byte, mode byte, rawLen int, data []byte) ([]byte, error) {
	d.Tables = 0
	if mode != Planes {
		return d.single(dst, mode, rawLen, data)
	}
	out := assemble(dst, &d.out, rawLen)
	m, k, spans, subs, classLen, err := parseSpans(data, rawLen)
	if err != nil {
		return nil, err
	}
	// Then each class's block, its bytes scattered to its spans.
	for c := uint8(0); c < m; c++ {
		if len(subs) < HeaderLen || classLen[c] == 0 {
			return nil, fmt.Errorf("%w: planes block: class %d cut or empty", ErrFormat, c)
		}
		mode, subRaw, subData, err := Header(subs)
		if err != nil {
			return nil, err
		}
		if mode == Planes || mode == Zstd || mode == Adaptive || subRaw != classLen[c] || subData > len(subs)-HeaderLen {
			return nil, fmt.Errorf("%w: planes block: bad block for class %d", ErrFormat, c)
		}
		plane, err := d.single(nil, mode, subRaw, subs[HeaderLen:HeaderLen+subData])
		if err != nil {
			return nil, err
		}
		subs = subs[HeaderLen+subData:]
		rest, pos := spans, 0
		for i := uint64(0); i < k; i++ {
			sc, l, r, _ := nextSpan(rest, m)
			if sc == c {
				pos += copy(out[pos:pos+l], plane)
				plane = plane[l:]
			} else {
				pos += l
			}
			rest = r
		}
	}
	if len(subs) != 0 {
		return nil, fmt.Errorf("%w: planes block: %d bytes after its classes", ErrFormat, len(subs))
	}
	return out, nil
}

// single decodes a block of any mode but Planes.
func (d *Decoder) single(dst []byte, mode byte, rawLen int, data []byte) ([]byte, error) {
	switch mode {
	case Packed:
		return d.packed(dst, rawLen, data)
	case Zstd:
		return d.zstd(rawLen, data)
	case Context:
		return d.context(dst, rawLen, data)
	case Adaptive:
		return d.adaptive(dst, rawLen, data)
	}
	return d.plain(mode, rawLen, data)
}

// packed decodes a Packed block: its symbols, bits wide, are packed into
// the bytes of an inner Stored, FSE, RLE or Huffman block.
func (d *Decoder) packed(dst []byte, rawLen int, data []byte) ([]byte, error) {
	bits := int(data[0])
	if bits != 1 && bits != 2 && bits != 4 {
		return nil, fmt.Errorf("%w: packed block of %d-bit symbols", ErrFormat, bits)
	}
	mode, inRaw, inData, err := Header(data[1:])
	if err != nil {
		return nil, err
	}
	if mode == Planes || mode == Packed || mode == Adaptive || inRaw != (rawLen*bits+7)/8 || inData != len(data)-1-HeaderLen {
		return nil, fmt.Errorf("%w: packed block: bad inner block", ErrFormat)
	}
	in, err := d.plain(mode, inRaw, data[1+HeaderLen:])
	if err != nil {
		return nil, err
	}
	out := assemble(dst, &d.unp, rawLen)
	unpack(out, in, bits)
	return out, nil
}

// unpack is pack's inverse: out gets len(out) symbols of bits bits.
func unpack(out, in []byte, bits int) {
	per, mask := 8/bits, byte(1<<bits-1)
	full := len(out) / per
	switch bits {
	case 1:
		for j, b := range in[:full] {
			o := out[8*j : 8*j+8 : 8*j+8]
			o[0], o[1], o[2], o[3] = b&1, b>>1&1, b>>2&1, b>>3&1
			o[4], o[5], o[6], o[7] = b>>4&1, b>>5&1, b>>6&1, b>>7
		}
	case 2:
		for j, b := range in[:full] {
			o := out[4*j : 4*j+4 : 4*j+4]
			o[0], o[1], o[2], o[3] = b&3, b>>2&3, b>>4&3, b>>6
		}
	case 4:
		for j, b := range in[:full] {
			o := out[2*j : 2*j+2 : 2*j+2]
			o[0], o[1] = b&15, b>>4
		}
	}
	for i := full * per; i < len(out); i++ {
		out[i] = in[i/per] >> (i % per * bits) & mask
	}
}

// plain decodes a Stored, FSE, RLE or Huffman block.
func (d *Decoder) plain(mode byte, rawLen int, data []byte) ([]byte, error) {
	d.Tables++
	if (mode == Stored && len(data) != rawLen) || len(data) == 0 {
		return nil, fmt.Errorf("%w: block mode %d with %d data bytes for %d", ErrFormat, mode, len(data), rawLen)
	}
	switch mode {
	case Stored:
		return data, nil
	case RLE:
		if cap(d.huf) < MaxBlock {
			d.huf = make([]byte, MaxBlock)
		}
		out := d.huf[:rawLen]
		for i := range out {
			out[i] = data[0]
		}
		return out, nil
	case FSE, Huffman:
		var out []byte
		var err error
		if mode == FSE {
			d.s.DecompressLimit = rawLen
			out, err = fse.Decompress(data, &d.s)
		} else {
			out, err = d.huffman(rawLen, data)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		if len(out) != rawLen {
			return nil, fmt.Errorf("%w: block decodes to %d bytes, header says %d", ErrFormat, len(out), rawLen)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: block mode %d", ErrFormat, mode)
}

func (d *Decoder) huffman(rawLen int, data []byte) ([]byte, error) {
	sc, rest, err := huff0.ReadTable(data, &d.h)
	if err != nil {
		return nil, err
	}
	if cap(d.huf) < MaxBlock {
		d.huf = make([]byte, MaxBlock)
	}
	return sc.Decoder().Decompress4X(d.huf[:0:rawLen], rest)
}

// zstd decodes a Zstd block. The decoder's memory limit stops a frame
// (or several) that would decode to more than MaxBlock bytes.
func (d *Decoder) zstd(rawLen int, data []byte) ([]byte, error) {
	if d.z == nil {
		z, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(MaxBlock), zstd.WithDecoderMaxMemory(MaxBlock), zstd.IgnoreChecksum(true))
		if err != nil {
			return nil, err
		}
		d.z = z
	}
	if cap(d.huf) < MaxBlock {
		d.huf = make([]byte, MaxBlock)
	}
	out, err := d.z.DecodeAll(data, d.huf[:0])
	if err != nil {
		return nil, fmt.Errorf("%w: zstd block: %v", ErrFormat, err)
	}
	if len(out) != rawLen {
		return nil, fmt.Errorf("%w: zstd block decodes to %d bytes, header says %d", ErrFormat, len(out), rawLen)
	}
	return out, nil
}

// assemble returns the first rawLen bytes of dst to assemble a block's
// output in, or of *buf (made MaxBlock long at first use) when dst is
// too short.
func assemble(dst []byte, buf *[]byte, rawLen int) []byte {
	if len(dst) < rawLen {
		if cap(*buf) < MaxBlock {
			*buf = make([]byte, MaxBlock)
		}
		dst = *buf
	}
	return dst[:rawLen]
}
