package delta

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/delta/internal/fseblock"
	"github.com/edgetuf/edgetuf/internal/modelpairs"
)

// adaptiveBlocks lists the Adaptive blocks (header and data) of the FSE
// streams in a patch, walking the blocks after each stream magic.
func adaptiveBlocks(patch []byte) (blocks [][]byte) {
	for {
		i := bytes.Index(patch, []byte(fseMagic))
		if i < 0 {
			return blocks
		}
		patch = patch[i+len(fseMagic):]
		for len(patch) >= fseblock.HeaderLen {
			mode, _, dataLen, err := fseblock.Header(patch)
			if err != nil || dataLen > len(patch)-fseblock.HeaderLen {
				break
			}
			if mode == fseblock.Adaptive {
				blocks = append(blocks, patch[:fseblock.HeaderLen+dataLen])
			}
			patch = patch[fseblock.HeaderLen+dataLen:]
		}
	}
}

// adaptiveBlocksIn counts the Adaptive blocks of the FSE streams in a
// patch.
func adaptiveBlocksIn(patch []byte) int { return len(adaptiveBlocks(patch)) }

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

// TestAdaptiveAllowance: Apply decodes no more adaptive bytes than Diff
// would code for the target (maxAdaptive): a patch whose header names a
// target of 16 MiB or more, or whose adaptive blocks add up to more than
// its target, is refused with ErrFormat before the excess is decoded, so
// that a hostile patch cannot make a device decode adaptively (3-4 MB/s)
// for minutes within its work budget.
func TestAdaptiveAllowance(t *testing.T) {
	t.Parallel()
	if got := adaptiveAllowance(maxAdaptiveTarget).Left(); got != 0 {
		t.Errorf("allowance for a 16 MiB target: %d, want 0", got)
	}
	if got := adaptiveAllowance(1000).Left(); got != 1000 {
		t.Errorf("allowance for a 1000-byte target: %d, want 1000", got)
	}
	old, nw := modelpairs.RetrainedHalves(31, 300<<10), modelpairs.RetrainedHalves(32, 300<<10)
	_, patch := roundTrip(t, old, nw, Options{})
	blocks := adaptiveBlocks(patch)
	if len(blocks) == 0 {
		t.Fatal("no Adaptive block to test with")
	}
	// A block past the allowance is refused before it is decoded: no work
	// is charged for it.
	blk := blocks[0]
	work := NewBudget(1 << 40)
	f := &fseReader{r: bytes.NewReader(blk), work: work, adaptive: NewBudget(1000)}
	if err := f.next(nil); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "adaptively") || work.Used() != 0 {
		t.Errorf("an adaptive block past the allowance: %v (%d units of work), want ErrFormat before decoding", err, work.Used())
	}
	// Within the allowance it is decoded (from a fresh model it may not
	// decode to the block's length, which is then another ErrFormat), and
	// its raw length is taken from the allowance.
	_, rawLen, _, _ := fseblock.Header(blk)
	allowance := NewBudget(1 << 20)
	f = &fseReader{r: bytes.NewReader(blk), work: NewBudget(1 << 40), adaptive: allowance}
	if err := f.next(nil); err != nil && strings.Contains(err.Error(), "adaptively") {
		t.Errorf("the same block within the allowance: %v", err)
	}
	if allowance.Used() != int64(rawLen) {
		t.Errorf("allowance used %d, want the block's %d raw bytes", allowance.Used(), rawLen)
	}
}
