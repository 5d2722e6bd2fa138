package delta

import (
	"bytes"
	"testing"

	"github.com/edgetuf/edgetuf/delta/internal/fseblock"
	"github.com/edgetuf/edgetuf/internal/modelpairs"
)

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
	old, nw := modelpairs.RetrainedHalves(31, 300<<10), modelpairs.RetrainedHalves(32, 300<<10)
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
		if got := maxAdaptive(c.newLen, false); int64(got) != c.want {
			t.Errorf("maxAdaptive(%d) = %d, want %d", c.newLen, got, c.want)
		}
		if got := maxAdaptive(c.newLen, true); got != 0 {
			t.Errorf("maxAdaptive(%d, FastApply) = %d, want 0", c.newLen, got)
		}
	}
}

// TestFastApplyNoAdaptiveBlocks: with Options.FastApply the model that
// TestAdaptiveBlocksApply codes adaptively gets no Adaptive block, and
// the patch still round-trips.
func TestFastApplyNoAdaptiveBlocks(t *testing.T) {
	t.Parallel()
	old, nw := modelpairs.RetrainedHalves(31, 300<<10), modelpairs.RetrainedHalves(32, 300<<10)
	_, patch := roundTrip(t, old, nw, Options{FastApply: true})
	if n := adaptiveBlocksIn(patch); n != 0 {
		t.Errorf("%d Adaptive blocks with FastApply", n)
	}
}
