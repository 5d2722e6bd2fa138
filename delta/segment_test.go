package delta

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// The stream cap changes at smallSegmentBelow bytes of old file.
func TestSegmentStreamsThreshold(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ old, want int64 }{
		{0, smallSegmentStreams},
		{smallSegmentBelow - 1, smallSegmentStreams},
		{smallSegmentBelow, segmentOut},
		{4 << 30, segmentOut},
	} {
		if got := segmentStreams(c.old); got != c.want {
			t.Errorf("old file of %d bytes: %d stream bytes per segment, want %d", c.old, got, c.want)
		}
	}
	if smallSegmentStreams < ShuffleBlock || smallSegmentStreams%ShuffleBlock != 0 {
		t.Fatalf("smallSegmentStreams %d: must be whole shuffle blocks", smallSegmentStreams)
	}
	// DiffMemory follows the cap.
	if a, b := DiffMemory(smallSegmentBelow-1, 32<<20, Options{}), DiffMemory(smallSegmentBelow, 32<<20, Options{}); b-a < streamCopies*(segmentOut-smallSegmentStreams) {
		t.Fatalf("DiffMemory below the threshold %d, at it %d", a, b)
	}
}

// streams records the stream lengths of each segment Diff writes.
type streams struct{ ctrl, diff, extra []int }

func (s *streams) dump(ctrl, diff, extra []byte) {
	s.ctrl, s.diff, s.extra = append(s.ctrl, len(ctrl)), append(s.diff, len(diff)), append(s.extra, len(extra))
}

// A segment's diff and extra streams hold at most smallSegmentStreams
// bytes, cut at shuffle block boundaries of the target (width-4 records
// split there must stay aligned: Apply checks it), while a segment of
// copies alone still covers segmentOut bytes.
func TestSegmentStreamCap(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 17))
	const size = 10<<20 + 4*1000 // not a multiple of the block
	old := floats(r, size/4)
	t.Run("changed", func(t *testing.T) {
		nw := bytes.Clone(old)
		for i := 0; i < len(nw); i += 4 { // every weight changed: diff bytes
			nw[i] ^= byte(r.IntN(4))
		}
		copy(nw[3<<20+12:], floats(r, 1<<20)) // and some new: extra bytes
		var s streams
		st, _ := roundTrip(t, old, nw, Options{dump: s.dump})
		total := 0
		for i := range s.diff {
			n := s.diff[i] + s.extra[i]
			total += n
			if n > smallSegmentStreams {
				t.Errorf("segment %d: %d stream bytes, cap %d", i, n, smallSegmentStreams)
			}
		}
		if st.Segments < 3 || total < size*9/10 {
			t.Fatalf("%d segments, %d stream bytes: the test needs the cap to cut", st.Segments, total)
		}
	})
	t.Run("copies", func(t *testing.T) {
		nw := append(bytes.Clone(old[4096:]), old[:4096]...) // moved, not changed
		var s streams
		st, _ := roundTrip(t, old, nw, Options{dump: s.dump})
		if st.Segments != 1 {
			t.Fatalf("%d segments for %d bytes of copies (diff %v, extra %v)", st.Segments, size, s.diff, s.extra)
		}
	})
}
