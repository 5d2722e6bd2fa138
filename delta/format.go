package delta

import (
	"bytes"
	"encoding/binary"
	"io"

	"github.com/edgetuf/edgetuf/delta/internal/head"
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

func readHeader(patch io.ReaderAt, patchLen int64) (*Header, error) {
	b := make([]byte, max(0, min(patchLen, HeaderSize)))
	if _, err := patch.ReadAt(b, 0); err != nil {
		return nil, formatErr("reading the header: %v", err)
	}
	p, err := head.Parse(b, patchLen, MaxSegment)
	if err != nil {
		return nil, formatErr("%v", err)
	}
	return &Header{BaseLength: p.BaseLength, BaseSHA256: p.BaseSHA256, TargetLength: p.TargetLength, TargetSHA256: p.TargetSHA256, HashPrefix: p.HashPrefix, form: p}, nil
}

// segmentHeader precedes each segment's streams.
type segmentHeader struct {
	outLen, ctrlLen, diffLen, extraLen uint32
}

func (s segmentHeader) marshal() (b []byte) {
	for _, v := range []uint32{s.outLen, s.ctrlLen, s.diffLen, s.extraLen} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
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

// pack rewrites a control stream of Diff's records in the packed syntax
// of the compact form (package head).
func pack(ctrl []byte) []byte {
	var b []byte
	for r := bytes.NewReader(ctrl); r.Len() > 0; {
		rec, _ := readRecord(r, false)
		b = binary.AppendUvarint(b, head.Pack(rec.op, rec.width, rec.length))
		if rec.op != opInsert {
			b = binary.AppendUvarint(b, uint64(rec.offset))
		}
	}
	return b
}

// readRecord decodes one record, packed or not; the caller checks it
// against the base and the target.
func readRecord(r io.ByteReader, packed bool) (record, error) {
	var rec record
	op, err := binary.ReadUvarint(r)
	if err != nil {
		return rec, err
	}
	var w, n uint64
	if packed {
		op, w, n = head.Unpack(op)
	} else {
		if op != opCopy {
			w, err = binary.ReadUvarint(r)
		}
		if err == nil {
			n, err = binary.ReadUvarint(r)
		}
		if err != nil {
			return rec, noEOF(err)
		}
	}
	if op > opInsert {
		return rec, formatErr("unknown operation %d", op)
	}
	if op != opCopy && w != 1 && w != 2 && w != 4 {
		return rec, formatErr("width %d", w)
	}
	if n == 0 || n > MaxSegment {
		return rec, formatErr("record length %d", n)
	}
	rec.op, rec.width, rec.length = uint8(op), uint8(w), int64(n)
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
