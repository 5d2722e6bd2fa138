package modelpairs

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
)

// RetrainedHalves is n fp16 weights (2n bytes, little-endian) of a small
// model retrained from scratch: tensors of 4096 weights drawn from a
// normal distribution, each tensor with a scale of its own. Two seeds
// give two unrelated versions: nothing matches, and the new weights are
// what Diff's adaptive blocks code (fseblock mode 8).
func RetrainedHalves(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, streamHalves))
	b := make([]byte, 2*n)
	scale := 0.05
	for i := range n {
		if i%4096 == 0 {
			scale = 0.002 + r.Float64()*0.2
		}
		binary.LittleEndian.PutUint16(b[2*i:], half(float32(r.NormFloat64()*scale)))
	}
	return b
}

// half is x in IEEE 754 half precision, its mantissa truncated, values
// too small or too large for a normal half flushed to zero.
func half(x float32) uint16 {
	f := math.Float32bits(x)
	if e := int(f>>23&0xff) - 127 + 15; e > 0 && e < 31 {
		return uint16(f>>16)&0x8000 | uint16(e)<<10 | uint16(f>>13&0x3ff)
	}
	return 0
}
