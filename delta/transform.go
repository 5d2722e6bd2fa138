package delta

import (
	"encoding/binary"

	"github.com/edgetuf/edgetuf/delta/internal/planes"
)

// shuffle writes src (target bytes starting at a multiple of w) grouped
// by plane into dst: first every byte with index%w == 0, then 1, ...
func shuffle(dst, src []byte, w int) {
	if w == 1 {
		copy(dst, src)
		return
	}
	n := len(src) / w
	for p := 0; p < w; p++ {
		d := dst[p*n : (p+1)*n]
		for i := range d {
			d[i] = src[i*w+p]
		}
	}
}

// unshuffle is shuffle's inverse.
func unshuffle(dst, src []byte, w int) {
	if w == 1 {
		copy(dst, src)
		return
	}
	n := len(dst) / w
	for p := 0; p < w; p++ {
		s := src[p*n : (p+1)*n]
		for i, b := range s {
			dst[i*w+p] = b
		}
	}
}

// encodeXOR sets d = new ^ old.
func encodeXOR(d, nw, old []byte) {
	for i := range d {
		d[i] = nw[i] ^ old[i]
	}
}

// encodeSub sets d to the zigzag-encoded difference new - old of
// little-endian words of width w: small differences of either sign get
// zero high bytes, which the byte planes then compress away.
func encodeSub(d, nw, old []byte, w int) {
	switch w {
	case 1:
		for i := range d {
			x := int8(nw[i] - old[i])
			d[i] = byte((x << 1) ^ (x >> 7))
		}
	case 2:
		for i := 0; i+2 <= len(d); i += 2 {
			x := int16(binary.LittleEndian.Uint16(nw[i:]) - binary.LittleEndian.Uint16(old[i:]))
			binary.LittleEndian.PutUint16(d[i:], uint16((x<<1)^(x>>15)))
		}
	case 4:
		for i := 0; i+4 <= len(d); i += 4 {
			x := int32(binary.LittleEndian.Uint32(nw[i:]) - binary.LittleEndian.Uint32(old[i:]))
			binary.LittleEndian.PutUint32(d[i:], uint32((x<<1)^(x>>31)))
		}
	}
}

// decodeXOR sets out = d ^ old (out may alias old).
func decodeXOR(out, d, old []byte) {
	for i := range out {
		out[i] = d[i] ^ old[i]
	}
}

// decodeSub sets out = old + the zigzag-decoded difference in d, as
// little-endian words of width w (out may alias old).
func decodeSub(out, d, old []byte, w int) {
	switch w {
	case 1:
		for i := range out {
			z := d[i]
			out[i] = old[i] + (z>>1 ^ -(z & 1))
		}
	case 2:
		for i := 0; i+2 <= len(out); i += 2 {
			z := binary.LittleEndian.Uint16(d[i:])
			binary.LittleEndian.PutUint16(out[i:], binary.LittleEndian.Uint16(old[i:])+(z>>1^-(z&1)))
		}
	case 4:
		for i := 0; i+4 <= len(out); i += 4 {
			z := binary.LittleEndian.Uint32(d[i:])
			binary.LittleEndian.PutUint32(out[i:], binary.LittleEndian.Uint32(old[i:])+(z>>1^-(z&1)))
		}
	}
}

// pieceEnd is where the shuffle block containing pos ends, clipped to end.
func pieceEnd(pos, end int64) int64 {
	e := (pos/ShuffleBlock + 1) * ShuffleBlock
	if e > end {
		return end
	}
	return e
}

// combine undoes a record piece in place: out holds the base bytes (XOR,
// SUB) or is the destination (INSERT), and src holds the piece's stream
// bytes, byte-plane shuffled for widths 2 and 4. Package planes unshuffles
// and decodes in one pass, 16 bytes of each plane at a time (SSE2, NEON).
func combine(out, src []byte, op uint8, w int) {
	pop := [...]planes.Op{opInsert: planes.Insert, opXOR: planes.XOR, opSub: planes.Sub}[op]
	n := len(out) / max(w, 1)
	switch {
	case w == 4 && len(out)%4 == 0:
		planes.Words4(out, src[:n], src[n:2*n], src[2*n:3*n], src[3*n:4*n], pop)
	case w == 2 && len(out)%2 == 0:
		planes.Words2(out, src[:n], src[n:2*n], pop)
	default:
		planes.Bytes(out, src[:len(out)], pop)
	}
}
