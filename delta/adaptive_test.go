package delta

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgetuf/edgetuf/delta/internal/fseblock"
)

// retrainedHalves is a model of n fp16 weights retrained: tensors of 4096
// weights, each with a scale of its own, none of them in the old model.
func retrainedHalves(r *rand.Rand, n int) []byte {
	b := make([]byte, 2*n)
	scale := 0.05
	for i := 0; i < n; i++ {
		if i%4096 == 0 {
			scale = 0.002 + r.Float64()*0.2
		}
		f := math.Float32bits(float32(r.NormFloat64() * scale))
		var h uint16
		if e := int(f>>23&0xff) - 127 + 15; e > 0 {
			h = uint16(f>>16)&0x8000 | uint16(e)<<10 | uint16(f>>13&0x3ff)
		}
		binary.LittleEndian.PutUint16(b[2*i:], h)
	}
	return b
}

// adaptiveBlocksIn counts the Adaptive blocks of the FSE streams in a
// patch, walking the blocks after each stream magic.
func adaptiveBlocksIn(patch []byte) (n int) {
	for {
		i := bytes.Index(patch, []byte(fseMagic))
		if i < 0 {
			return n
		}
		patch = patch[i+len(fseMagic):]
		for len(patch) >= fseblock.HeaderLen {
			mode, _, dataLen, err := fseblock.Header(patch)
			if err != nil || dataLen > len(patch)-fseblock.HeaderLen {
				break
			}
			if mode == fseblock.Adaptive {
				n++
			}
			patch = patch[fseblock.HeaderLen+dataLen:]
		}
	}
}

// TestAdaptiveBlocksApply: the inserted weights of a small retrained
// model are coded in Adaptive blocks, and the patch applies within the
// default work budget.
func TestAdaptiveBlocksApply(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(31, 32))
	old, nw := retrainedHalves(r, 300<<10), retrainedHalves(r, 300<<10)
	_, patch := roundTrip(t, old, nw, Options{})
	if n := adaptiveBlocksIn(patch); n == 0 {
		t.Errorf("no Adaptive block in a %d-byte patch", len(patch))
	}
	b := NewBudget(WorkBudget(int64(len(nw))))
	if out, err := applyBytes(old, patch, Limits{MaxPatchRatio: -1, Work: b}); err != nil || !bytes.Equal(out, nw) {
		t.Fatalf("apply within the default budget: %v", err)
	}
	t.Logf("%d units of work for %d bytes", b.Used(), len(nw))
}

// TestMaxAdaptive: targets of maxAdaptiveTarget bytes and more get no
// Adaptive block (their Apply must keep up with a copy).
func TestMaxAdaptive(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ newLen, want int64 }{
		{0, 0}, {1000, 1000}, {maxAdaptiveTarget - 1, maxAdaptiveTarget - 1}, {maxAdaptiveTarget, 0}, {64 << 20, 0},
	} {
		if got := maxAdaptive(c.newLen); int64(got) != c.want {
			t.Errorf("maxAdaptive(%d) = %d, want %d", c.newLen, got, c.want)
		}
	}
}
