package delta

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// channelWeights is n bytes of fp16 weights in channels of 16, each
// channel with a scale of its own, as convolution kernels are: the high
// byte of a weight (sign, exponent) depends on the one before.
func channelWeights(r *rand.Rand, n int) []byte {
	out := make([]byte, 0, n)
	var scale float64
	for i := 0; len(out) < n; i++ {
		if i%16 == 0 {
			scale = math.Exp2(-2 - 10*r.Float64())
		}
		out = binary.LittleEndian.AppendUint16(out, float16(r.NormFloat64()*scale))
	}
	return out[:n]
}

// float16 is x's IEEE half-precision bits, rounded toward zero; tiny
// values become zero.
func float16(x float64) uint16 {
	b := math.Float32bits(float32(x))
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	if exp <= 0 {
		return sign
	}
	return sign | uint16(min(exp, 30))<<10 | uint16(b>>13&0x3ff)
}

// TestNewWeightsCodedByContext: new fp16 weights whose exponents depend
// on their neighbours code well below zstd's best level, thanks to
// Context blocks (order-1 tables on the high-byte plane; the low bytes
// are random): 87.8% of zstd's size with them, 91.2% with order-0
// tables only. The bound fails if the Context coding stops being chosen.
func TestNewWeightsCodedByContext(t *testing.T) {
	t.Parallel()
	nw := channelWeights(rand.New(rand.NewPCG(31, 32)), 1<<20)
	z := zstdBest(t, nw)
	_, patch := roundTrip(t, nil, nw, Options{})
	t.Logf("patch %d, zstd %d (%.1f%%)", len(patch), z, 100*float64(len(patch))/float64(z))
	if float64(len(patch)) > 0.895*float64(z) {
		t.Errorf("patch %d bytes, more than 89.5%% of zstd's %d", len(patch), z)
	}
}
