// Package head reads and writes the header at the start of a patch of
// package delta, in its two forms: the full form (96 bytes, whole
// hashes, then segments) and the compact form, for patches of a few
// hundred bytes, where the full header and a 16-byte segment header
// would be most of the patch (a pure reorder of a model bundle is a few
// COPY records). It also packs the compact form's control records.
//
// # The compact form
//
// All integers are unsigned varints (encoding/binary) unless said
// otherwise.
//
//	magic          2 bytes  0xED 0xDC (the full form starts "EDTDELTA":
//	                        an Apply that predates the compact form
//	                        refuses it as not a patch)
//	flags          1 byte   bit 0, 1, 2: the control, diff, extra stream is
//	                        stored as is; other bits zero
//	base length
//	length change  signed varint (zigzag): target length - base length,
//	                        the target at most delta.MaxSegment bytes
//	base SHA-256   its first 8 bytes
//	target SHA-256 its first 8 bytes
//	control length
//	diff length
//	control, diff and extra streams, the extra stream running to the end
//	of the patch
//
// The streams are those of one segment of the full form that rebuilds
// the whole target: each stored as is when its flag says so, else a
// zstd frame or an FSE stream as in a segment, empty when its length is
// 0. Its records are packed: a record's operation, width and length are
// one varint, length<<4 | c<<2 | op, the width 1<<c (c is 0 for COPY),
// followed by the base offset for COPY, XOR and SUB.
//
// The 8-byte prefixes are an integrity check against accidents (a wrong
// base, a damaged patch), not an authentication: a caller that knows the
// full SHA-256 (the device client: the signed ones) gives them to Apply,
// which checks the prefixes against them before it writes anything and
// the output against the full hash.
package head

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Full form constants.
const (
	Magic    = "EDTDELTA"
	Version  = 1
	FullLen  = 96
	zstdComp = 1
)

// CompactMagic starts a patch in the compact form.
const CompactMagic = "\xed\xdc"

// PrefixLen is how many leading bytes of each SHA-256 the compact form
// names.
const PrefixLen = 8

// Flag bits of the compact form: stream i (control, diff, extra) is
// stored as is.
const (
	RawControl = 1 << iota
	RawDiff
	RawExtra
	allFlags = RawControl | RawDiff | RawExtra
)

// ErrFormat is returned, wrapped, for every malformed header.
var ErrFormat = errors.New("malformed patch header")

// Header is a patch's header.
type Header struct {
	BaseLength, TargetLength int64
	BaseSHA256, TargetSHA256 [32]byte // compact: the first PrefixLen bytes
	// HashPrefix is how many bytes of each hash the patch names: 32, or
	// PrefixLen in the compact form.
	HashPrefix int
	// Len is the header's length: the segments (compact: the streams)
	// follow it.
	Len int
	// Compact, Flags and Streams: the compact form, its flags and the
	// lengths of its control, diff and extra streams.
	Compact bool
	Flags   uint8
	Streams [3]int64
}

// Append appends h in its form to b. The compact form's Streams[2] is
// not written: it is what remains of the patch.
func (h *Header) Append(b []byte) []byte {
	if !h.Compact {
		b = append(b, Magic...)
		b = append(b, Version, zstdComp, 0, 0, 0, 0, 0, 0)
		b = binary.BigEndian.AppendUint64(b, uint64(h.BaseLength))
		b = append(b, h.BaseSHA256[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(h.TargetLength))
		return append(b, h.TargetSHA256[:]...)
	}
	b = append(append(b, CompactMagic...), h.Flags)
	b = binary.AppendUvarint(b, uint64(h.BaseLength))
	// A retrain keeps the size, or nearly: a byte or two.
	b = binary.AppendVarint(b, h.TargetLength-h.BaseLength)
	b = append(append(b, h.BaseSHA256[:PrefixLen]...), h.TargetSHA256[:PrefixLen]...)
	b = binary.AppendUvarint(b, uint64(h.Streams[0]))
	return binary.AppendUvarint(b, uint64(h.Streams[1]))
}

// Parse parses the header at the start of b, the first bytes of a patch
// of patchLen bytes (at least FullLen of them, or all). A compact
// header's lengths are checked: its target is at most maxTarget bytes and
// its streams fit in the patch.
func Parse(b []byte, patchLen, maxTarget int64) (*Header, error) {
	if bytes.HasPrefix(b, []byte(CompactMagic)) {
		return parseCompact(b, patchLen, maxTarget)
	}
	if patchLen < FullLen || len(b) < FullLen {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the %d-byte header", ErrFormat, patchLen, FullLen)
	}
	switch {
	case string(b[:8]) != Magic:
		return nil, fmt.Errorf("%w: not a delta patch (magic %q)", ErrFormat, b[:8])
	case b[8] != Version:
		return nil, fmt.Errorf("%w: version %d is not supported (want %d)", ErrFormat, b[8], Version)
	case b[9] != zstdComp:
		return nil, fmt.Errorf("%w: compressor %d is not supported", ErrFormat, b[9])
	case !bytes.Equal(b[10:16], make([]byte, 6)):
		return nil, fmt.Errorf("%w: reserved header bytes are not zero", ErrFormat)
	}
	h := &Header{HashPrefix: 32, Len: FullLen}
	bl, tl := binary.BigEndian.Uint64(b[16:]), binary.BigEndian.Uint64(b[56:])
	if bl > 1<<62 || tl > 1<<62 {
		return nil, fmt.Errorf("%w: length out of range", ErrFormat)
	}
	h.BaseLength, h.TargetLength = int64(bl), int64(tl)
	copy(h.BaseSHA256[:], b[24:56])
	copy(h.TargetSHA256[:], b[64:96])
	return h, nil
}

func parseCompact(b []byte, patchLen, maxTarget int64) (*Header, error) {
	if patchLen > math.MaxUint32 {
		return nil, fmt.Errorf("%w: a compact patch of %d bytes", ErrFormat, patchLen)
	}
	n := len(CompactMagic) + 1
	if len(b) < n || b[n-1]&^allFlags != 0 {
		return nil, fmt.Errorf("%w: flags missing or unknown", ErrFormat)
	}
	h := &Header{Compact: true, HashPrefix: PrefixLen, Flags: b[n-1]}
	bl, k := binary.Uvarint(b[n:])
	if k <= 0 || bl > 1<<62 {
		return nil, fmt.Errorf("%w: base length", ErrFormat)
	}
	n += k
	change, k := binary.Varint(b[n:])
	if k <= 0 || change < -int64(bl) || change > maxTarget-int64(bl) {
		return nil, fmt.Errorf("%w: target length out of range", ErrFormat)
	}
	n += k
	h.BaseLength, h.TargetLength = int64(bl), int64(bl)+change
	if len(b) < n+2*PrefixLen {
		return nil, fmt.Errorf("%w: truncated", ErrFormat)
	}
	n += copy(h.BaseSHA256[:PrefixLen], b[n:])
	n += copy(h.TargetSHA256[:PrefixLen], b[n:])
	rest := patchLen - int64(n)
	for i := range 2 {
		v, k := binary.Uvarint(b[n:])
		rest -= int64(max(k, 0))
		if k <= 0 || rest < 0 || v > uint64(rest) {
			return nil, fmt.Errorf("%w: stream length past the end of the patch", ErrFormat)
		}
		n += k
		h.Streams[i] = int64(v)
		rest -= h.Streams[i]
	}
	h.Streams[2], h.Len = rest, n
	return h, nil
}

// Names reports whether a header's hash, of which it names the first n
// bytes, is sha256. An n that no form names (a Header not from Parse,
// whose HashPrefix is 0) compares the whole hash: never fewer bytes than
// PrefixLen.
func Names(hash [32]byte, n int, sha256 []byte) bool {
	if n < PrefixLen || n > len(hash) {
		n = len(hash)
	}
	return len(sha256) == len(hash) && bytes.Equal(hash[:n], sha256[:n])
}

// Pack is the first varint of a packed record (op 0 is COPY, width 0).
func Pack(op, width uint8, length int64) uint64 {
	return uint64(length)<<4 | uint64(bits.Len8(width>>1))<<2 | uint64(op)
}

// Unpack splits the first varint of a packed record; a COPY with a width
// gives op 4, which no record has.
func Unpack(v uint64) (op, width, length uint64) {
	if op = v & 3; op != 0 {
		width = 1 << (v >> 2 & 3)
	} else if v>>2&3 != 0 {
		op = 4
	}
	return op, width, v >> 4
}
