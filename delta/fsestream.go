package delta

import (
	"encoding/binary"
	"io"

	"github.com/edgetuf/edgetuf/delta/internal/cm"
	"github.com/edgetuf/edgetuf/delta/internal/fseblock"
)

// An FSE stream is the alternative to a zstd frame for a diff or extra
// stream: plain order-0 entropy coding (finite state entropy, the tANS
// coder inside zstd) of blocks of up to fseBlock bytes. zstd's Huffman
// literals are 0.5% above the order-0 entropy of incompressible weight
// bytes (new int8 tensors); FSE gets within 0.1%. A block may hold one
// table per byte plane (package fseblock: mode 3, Planes), which on a
// fine-tune's diff stream is 20% smaller than one table per block. Diff
// keeps whichever coding of a stream is smaller, and Apply tells them
// apart by the first four bytes: zstd's frame magic or fseMagic.
//
//	magic  4 bytes "EDF1"
//	blocks (package fseblock), each:
//	  mode        1 byte: 0 stored, 1 FSE, 2 one byte repeated, 3 planes,
//	              4 Huffman, 5 packed, 6 zstd, 7 context (order 1),
//	              8 adaptive (context mixing)
//	  raw length  4 bytes (big-endian), 1 .. fseBlock
//	  data length 4 bytes (big-endian): raw length when stored, 1 when
//	              repeated, at most fseBlock (fseblock.Header checks
//	              each mode's bounds)
//	  data
const (
	fseMagic = "EDF1"
	fseBlock = fseblock.MaxBlock
)

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// appendFSE appends the FSE stream coding of raw to dst; spans (nil for
// none) say which bytes of raw belong to which byte plane.
func appendFSE(e *fseblock.Encoder, dst, raw []byte, spans []fseblock.Span) []byte {
	dst = append(dst, fseMagic...)
	return e.AppendBlocks(dst, raw, spans)
}

// fseReader decodes an FSE stream a block at a time.
type fseReader struct {
	r    io.Reader
	work *Budget // charged for each block before it is decoded
	// adaptive is what is left of the raw bytes Adaptive blocks may
	// decode in this Apply (adaptiveAllowance), shared by its readers.
	adaptive *Budget
	dec      fseblock.Decoder
	in       []byte
	out      []byte // decoded, not yet read
	hdr      [fseblock.HeaderLen]byte
}

func (f *fseReader) reset(r io.Reader) {
	f.r, f.out = r, nil
	f.dec.Reset()
}

func (f *fseReader) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		if err := f.next(p); err != nil {
			return 0, err
		}
		if len(f.out) > 0 && len(p) > 0 && &f.out[0] == &p[0] {
			// Decoded in place.
			n := len(f.out)
			f.out = nil
			return n, nil
		}
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

// next decodes the next block, into p when it has room and the block's
// mode assembles its output.
func (f *fseReader) next(p []byte) error {
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return formatErr("FSE stream: truncated block header")
	}
	mode, rawLen, dataLen, err := fseblock.Header(f.hdr[:])
	if err != nil {
		return formatErr("FSE stream: %v", err)
	}
	if cap(f.in) < fseBlock {
		f.in = make([]byte, fseBlock)
	}
	in := f.in[:dataLen]
	if _, err := io.ReadFull(f.r, in); err != nil {
		return formatErr("FSE stream: truncated block")
	}
	if mode == fseblock.Adaptive && (f.adaptive == nil || f.adaptive.spend(int64(rawLen)) != nil) {
		return formatErr("FSE stream: adaptive blocks past the bytes Diff codes adaptively for this target (%d, targets under 16 MiB)", maxAdaptiveTarget-1)
	}
	if err := f.work.spend(blockWork(mode, rawLen, in)); err != nil {
		return err
	}
	out, err := f.dec.Decode(p, mode, rawLen, in)
	if err != nil {
		return formatErr("FSE stream: %v", err)
	}
	// And for the tables inside it, known once decoded: at most
	// MaxClasses*MaxBuckets of them are read beyond the budget.
	if err := f.work.spend(workPerBlock * int64(f.dec.Tables)); err != nil {
		return err
	}
	f.out = out
	return nil
}

// workPerAdaptiveByte is charged per raw byte of an Adaptive block (8
// model look-ups and updates a byte): its decoding costs 50-100 times
// Huffman's, but a patch coding all its bytes adaptively must fit the
// budget (WorkPerByte), so it is charged less than its CPU time.
const workPerAdaptiveByte = 48

// adaptiveAllowance is the budget of raw bytes that Adaptive blocks may
// decode in one Apply of a target of targetLen bytes: what Diff would
// code adaptively (maxAdaptive). Charged 48 units a byte within a work
// budget of 64, adaptive blocks alone would let a hostile patch of a
// 1 GiB target decode at 3-4 MB/s for minutes; this holds it to the
// targets under 16 MiB that Diff uses them for (TestAdaptiveAllowance).
func adaptiveAllowance(targetLen int64) *Budget {
	return NewBudget(int64(maxAdaptive(targetLen, false)))
}

// workPerAdaptiveBlock is charged per Adaptive block besides: the first
// of each stream resets the model's tables, a quarter of a unit per
// byte (a memset), whatever the block's size.
const workPerAdaptiveBlock = cm.TableBytes / 4

// blockWork is the work of decoding a block of the given mode, raw
// length and data, charged before it is decoded (work.go): per block and
// per data byte, for an Adaptive block per raw byte, and for a Planes
// block per span and pass over the spans (one, then one per class: up to
// 65,000 spans of 2 bytes in a block).
func blockWork(mode byte, rawLen int, data []byte) int64 {
	switch mode {
	case fseblock.Adaptive:
		return workPerBlock + workPerAdaptiveBlock + int64(len(data)) + workPerAdaptiveByte*int64(rawLen)
	case fseblock.Zstd:
		return workPerBlock + workPerZstdByte*int64(len(data))
	case fseblock.Planes:
		// The counts as the block says, the decoder checks them.
		classes := int64(min(data[0], fseblock.MaxClasses))
		spans, _ := binary.Uvarint(data[1:])
		spans = min(spans, uint64(len(data)))
		return workPerBlock + int64(len(data)) + workPerSpan*int64(spans)*(1+classes)
	}
	return workPerBlock + int64(len(data))
}
