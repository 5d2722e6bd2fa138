package delta

import "encoding/binary"

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
// bytes, byte-plane shuffled for widths 2 and 4. Unshuffling and decoding
// happen in one pass over the planes.
func combine(out, src []byte, op uint8, w int) {
	switch {
	case w == 4 && len(out)%4 == 0:
		n := len(out) / 4
		// Equal lengths let the compiler drop the bounds checks.
		s0, s1, s2, s3 := src[:n:n], src[n:2*n:2*n], src[2*n:3*n:3*n], src[3*n:4*n:4*n]
		s1, s2, s3 = s1[:len(s0)], s2[:len(s0)], s3[:len(s0)]
		o := out[: 4*len(s0) : 4*len(s0)]
		switch op {
		case opInsert:
			for i := range s0 {
				o[4*i], o[4*i+1], o[4*i+2], o[4*i+3] = s0[i], s1[i], s2[i], s3[i]
			}
		case opXOR:
			for i := range s0 {
				w := o[4*i : 4*i+4 : 4*i+4]
				w[0] ^= s0[i]
				w[1] ^= s1[i]
				w[2] ^= s2[i]
				w[3] ^= s3[i]
			}
		case opSub:
			for i := range s0 {
				w := o[4*i : 4*i+4 : 4*i+4]
				z := uint32(s0[i]) | uint32(s1[i])<<8 | uint32(s2[i])<<16 | uint32(s3[i])<<24
				v := uint32(w[0]) | uint32(w[1])<<8 | uint32(w[2])<<16 | uint32(w[3])<<24
				v += z>>1 ^ -(z & 1)
				w[0], w[1], w[2], w[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
			}
		}
	case w == 2 && len(out)%2 == 0:
		n := len(out) / 2
		s0, s1 := src[:n], src[n:2*n]
		o := out[:2*n]
		switch op {
		case opInsert:
			for i := range s0 {
				o[2*i], o[2*i+1] = s0[i], s1[i]
			}
		case opXOR:
			for i := range s0 {
				o[2*i] ^= s0[i]
				o[2*i+1] ^= s1[i]
			}
		case opSub:
			for i := range s0 {
				z := uint16(s0[i]) | uint16(s1[i])<<8
				binary.LittleEndian.PutUint16(o[2*i:], binary.LittleEndian.Uint16(o[2*i:])+(z>>1^-(z&1)))
			}
		}
	default:
		switch op {
		case opInsert:
			copy(out, src)
		case opXOR:
			decodeXOR(out, src, out)
		case opSub:
			decodeSub(out, src, out, 1)
		}
	}
}
