package delta

import (
	"bytes"
	"encoding/binary"
	"io"
)

// Record operations.
const (
	opCopy   = 0
	opXOR    = 1
	opSub    = 2
	opInsert = 3
)

// record is one control record.
type record struct {
	op     uint8
	width  uint8 // 1, 2 or 4 for XOR, SUB and INSERT
	length int64
	offset int64 // base offset for COPY, XOR and SUB
}

func (h *Header) marshal() []byte {
	b := make([]byte, HeaderSize)
	copy(b, Magic)
	b[8] = Version
	b[9] = compressorZstd
	binary.BigEndian.PutUint64(b[16:], uint64(h.BaseLength))
	copy(b[24:56], h.BaseSHA256[:])
	binary.BigEndian.PutUint64(b[56:], uint64(h.TargetLength))
	copy(b[64:96], h.TargetSHA256[:])
	return b
}

func readHeader(patch io.ReaderAt, patchLen int64) (*Header, error) {
	if patchLen < HeaderSize {
		return nil, formatErr("%d bytes is shorter than the %d-byte header", patchLen, HeaderSize)
	}
	b := make([]byte, HeaderSize)
	if _, err := patch.ReadAt(b, 0); err != nil {
		return nil, formatErr("reading the header: %v", err)
	}
	if string(b[:8]) != Magic {
		return nil, formatErr("not a delta patch (magic %q)", b[:8])
	}
	if b[8] != Version {
		return nil, formatErr("version %d is not supported (want %d)", b[8], Version)
	}
	if b[9] != compressorZstd {
		return nil, formatErr("compressor %d is not supported", b[9])
	}
	if !bytes.Equal(b[10:16], make([]byte, 6)) {
		return nil, formatErr("reserved header bytes are not zero")
	}
	h := &Header{}
	bl, tl := binary.BigEndian.Uint64(b[16:]), binary.BigEndian.Uint64(b[56:])
	if bl > 1<<62 || tl > 1<<62 {
		return nil, formatErr("length out of range")
	}
	h.BaseLength, h.TargetLength = int64(bl), int64(tl)
	copy(h.BaseSHA256[:], b[24:56])
	copy(h.TargetSHA256[:], b[64:96])
	return h, nil
}

// segmentHeader precedes each segment's streams.
type segmentHeader struct {
	outLen, ctrlLen, diffLen, extraLen uint32
}

func (s segmentHeader) marshal() []byte {
	b := make([]byte, SegmentHeaderSize)
	binary.BigEndian.PutUint32(b[0:], s.outLen)
	binary.BigEndian.PutUint32(b[4:], s.ctrlLen)
	binary.BigEndian.PutUint32(b[8:], s.diffLen)
	binary.BigEndian.PutUint32(b[12:], s.extraLen)
	return b
}

func parseSegmentHeader(b []byte) segmentHeader {
	return segmentHeader{
		outLen:   binary.BigEndian.Uint32(b[0:]),
		ctrlLen:  binary.BigEndian.Uint32(b[4:]),
		diffLen:  binary.BigEndian.Uint32(b[8:]),
		extraLen: binary.BigEndian.Uint32(b[12:]),
	}
}

func appendRecord(b []byte, r record) []byte {
	b = binary.AppendUvarint(b, uint64(r.op))
	if r.op != opCopy {
		b = binary.AppendUvarint(b, uint64(r.width))
	}
	b = binary.AppendUvarint(b, uint64(r.length))
	if r.op != opInsert {
		b = binary.AppendUvarint(b, uint64(r.offset))
	}
	return b
}

// readRecord decodes one record; the caller checks it against the base
// and the target.
func readRecord(r io.ByteReader) (record, error) {
	var rec record
	op, err := binary.ReadUvarint(r)
	if err != nil {
		return rec, err
	}
	if op > opInsert {
		return rec, formatErr("unknown operation %d", op)
	}
	rec.op = uint8(op)
	if rec.op != opCopy {
		w, err := binary.ReadUvarint(r)
		if err != nil {
			return rec, noEOF(err)
		}
		if w != 1 && w != 2 && w != 4 {
			return rec, formatErr("width %d", w)
		}
		rec.width = uint8(w)
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return rec, noEOF(err)
	}
	if n == 0 || n > MaxSegment {
		return rec, formatErr("record length %d", n)
	}
	rec.length = int64(n)
	if rec.op != opInsert {
		off, err := binary.ReadUvarint(r)
		if err != nil {
			return rec, noEOF(err)
		}
		if off > 1<<62 {
			return rec, formatErr("offset out of range")
		}
		rec.offset = int64(off)
	}
	return rec, nil
}

// noEOF turns an end of stream inside a record into a format error.
func noEOF(err error) error {
	if err == io.EOF {
		return formatErr("control stream ends inside a record")
	}
	return err
}
