// Package planes rebuilds target words from the byte planes of a delta
// patch's diff and extra streams: Apply's inner loop. A piece of a width-2
// or width-4 record comes as its words' byte planes (all first bytes, then
// all second bytes, ...); these functions interleave the planes back into
// words and, for XOR and SUB records, combine them with the base bytes
// already in out.
//
// On amd64 (SSE2, the baseline: no CPU check) and arm64 (NEON) assembly
// does 16 words at a time (planes_amd64.s, planes_arm64.s) and the Go code
// below finishes the last words. Elsewhere, and under the purego build
// tag, the Go code does it all: Bytes and Words2 on eight bytes of each
// plane at a time in 64-bit registers (shifts and masks, no per-byte
// branch), then one word at a time; Words4 builds and stores whole 32-bit
// words (spreading four planes across registers cost more shifts than it
// saved loads). The results are those of the byte-at-a-time definition in
// the package's tests.
//
// SUB words hold the zigzag-coded difference new - old of little-endian
// words of the record's width: old + (z>>1 ^ -(z&1)), modulo the width.
package planes

import "encoding/binary"

// Masks of the low and high bit of each 8- and 16-bit lane of a 64-bit
// word.
const (
	lo8, hi8   = 0x0101010101010101, 0x8080808080808080
	lo16, hi16 = 0x0001000100010001, 0x8000800080008000
)

// spread8 moves byte k of x to byte 2k of the result (the odd bytes are
// zero).
func spread8(x uint32) uint64 {
	v := uint64(x)
	v = (v | v<<16) & 0x0000ffff0000ffff
	return (v | v<<8) & 0x00ff00ff00ff00ff
}

// zigzagAdd decodes the zigzag-coded lanes of z (lane width: lo and hi its
// low and high bits, ones its all-ones value) and adds them to the lanes
// of v, without carries between lanes.
func zigzagAdd(v, z, lo, hi, ones uint64) uint64 {
	d := (z>>1)&^hi ^ (z&lo)*ones
	return ((v &^ hi) + (d &^ hi)) ^ ((v ^ d) & hi)
}

// Op is what a piece's stream bytes are to the base bytes in out.
type Op uint8

const (
	Insert Op = iota // out is the stream's words
	XOR              // out ^= the stream's words
	Sub              // out += the zigzag-decoded stream's words
)

// combine8 combines the 8 bytes of out at i with word v (lanes of the
// width lo, hi and ones give) for op.
func combine8(out []byte, i int, v uint64, op Op, lo, hi, ones uint64) {
	switch op {
	case Insert:
		binary.LittleEndian.PutUint64(out[i:], v)
	case XOR:
		binary.LittleEndian.PutUint64(out[i:], binary.LittleEndian.Uint64(out[i:])^v)
	case Sub:
		binary.LittleEndian.PutUint64(out[i:], zigzagAdd(binary.LittleEndian.Uint64(out[i:]), v, lo, hi, ones))
	}
}

// Bytes combines out with src byte by byte (width 1: no planes).
func Bytes(out, src []byte, op Op) {
	if op == Insert {
		copy(out, src)
		return
	}
	src = src[:len(out)]
	m := bytesBulk(out, src, op)
	bytesGeneric(out[m:], src[m:], op)
}

// bytesGeneric is Bytes for op XOR or Sub in 64-bit registers.
func bytesGeneric(out, src []byte, op Op) {
	n := min(len(out), len(src)) &^ 7
	for i := 0; i < n; i += 8 {
		combine8(out, i, binary.LittleEndian.Uint64(src[i:]), op, lo8, hi8, 0xff)
	}
	for i := n; i < len(out); i++ {
		out[i] = word(out[i], src[i], op)
	}
}

// word combines one word v of the target with stream word z for op.
func word[T uint8 | uint16 | uint32](v, z T, op Op) T {
	switch op {
	case Insert:
		return z
	case XOR:
		return v ^ z
	}
	return v + (z>>1 ^ -(z & 1))
}

// Words2 combines out (2*len(s0) bytes) with the 16-bit words whose low
// bytes are s0 and high bytes s1.
func Words2(out, s0, s1 []byte, op Op) {
	n := len(s0)
	s1, out = s1[:n], out[:2*n]
	m := words2Bulk(out, s0, s1, op)
	words2Generic(out[2*m:], s0[m:], s1[m:], op)
}

// words2Generic is Words2 in 64-bit registers.
func words2Generic(out, s0, s1 []byte, op Op) {
	n := len(s0)
	s1, out = s1[:n], out[:2*n]
	m := n &^ 7
	for i := 0; i < m; i += 8 {
		x, y := binary.LittleEndian.Uint64(s0[i:]), binary.LittleEndian.Uint64(s1[i:])
		v0, v1 := spread8(uint32(x))|spread8(uint32(y))<<8, spread8(uint32(x>>32))|spread8(uint32(y>>32))<<8
		o := out[2*i : 2*i+16 : 2*i+16]
		// Written out, not a call per word: the compiler would not inline it.
		switch op {
		case Insert:
			binary.LittleEndian.PutUint64(o, v0)
			binary.LittleEndian.PutUint64(o[8:], v1)
		case XOR:
			binary.LittleEndian.PutUint64(o, binary.LittleEndian.Uint64(o)^v0)
			binary.LittleEndian.PutUint64(o[8:], binary.LittleEndian.Uint64(o[8:])^v1)
		case Sub:
			binary.LittleEndian.PutUint64(o, zigzagAdd(binary.LittleEndian.Uint64(o), v0, lo16, hi16, 0xffff))
			binary.LittleEndian.PutUint64(o[8:], zigzagAdd(binary.LittleEndian.Uint64(o[8:]), v1, lo16, hi16, 0xffff))
		}
	}
	for i := m; i < n; i++ {
		z := uint16(s0[i]) | uint16(s1[i])<<8
		binary.LittleEndian.PutUint16(out[2*i:], word(binary.LittleEndian.Uint16(out[2*i:]), z, op))
	}
}

// Words4 combines out (4*len(s0) bytes) with the 32-bit words whose bytes
// are s0 (lowest) to s3 (highest).
func Words4(out, s0, s1, s2, s3 []byte, op Op) {
	n := len(s0)
	s1, s2, s3, out = s1[:n], s2[:n], s3[:n], out[:4*n]
	m := words4Bulk(out, s0, s1, s2, s3, op)
	words4Generic(out[4*m:], s0[m:], s1[m:], s2[m:], s3[m:], op)
}

// words4Generic is Words4 word by word: spreading four planes across
// 64-bit registers costs more shifts than it saves loads.
func words4Generic(out, s0, s1, s2, s3 []byte, op Op) {
	n := len(s0)
	s1, s2, s3, out = s1[:n], s2[:n], s3[:n], out[:4*n:4*n]
	if op == Sub {
		// A loop of its own: with the other ops' cases it ran 20% slower.
		for i := range s0 {
			w := out[4*i : 4*i+4 : 4*i+4]
			z := uint32(s0[i]) | uint32(s1[i])<<8 | uint32(s2[i])<<16 | uint32(s3[i])<<24
			v := uint32(w[0]) | uint32(w[1])<<8 | uint32(w[2])<<16 | uint32(w[3])<<24
			v += z>>1 ^ -(z & 1)
			w[0], w[1], w[2], w[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
		return
	}
	for i := range s0 {
		z := uint32(s0[i]) | uint32(s1[i])<<8 | uint32(s2[i])<<16 | uint32(s3[i])<<24
		w := out[4*i : 4*i+4 : 4*i+4]
		if op == XOR {
			z ^= binary.LittleEndian.Uint32(w)
		}
		binary.LittleEndian.PutUint32(w, z)
	}
}
