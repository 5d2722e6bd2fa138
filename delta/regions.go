// Regions: pairs of regions of the new and old file that hold the same
// data, moved and perhaps changed (the same tensor of a model container,
// reordered by its exporter). The coder tries each piece of changed data
// against its region's pair as well as against its neighbouring matches.

package delta

import (
	"io"
	"slices"
	"sort"

	"github.com/edgetuf/edgetuf/delta/container"
)

// Region pairs Length bytes of the new file at NewOffset with the bytes
// of the old file at OldOffset. It is package container's Move, so that
// the regions of a model's tensors are built and checked there.
type Region = container.Move

// diffRegions returns the regions Diff codes against: opts.Regions, or
// those of the tensors of both files when they are model containers of
// the same format whose tables parse. A malformed container is not an
// error: the file is diffed as bytes, like any other. It fills st's
// container fields.
func diffRegions(old io.ReaderAt, oldLen int64, nw io.ReaderAt, newLen int64, opts Options, st *Stats) []Region {
	if opts.Regions != nil || opts.NoContainers {
		return container.NormalizeMoves(opts.Regions, oldLen, newLen)
	}
	nt, err := container.Parse(nw, newLen, container.DefaultLimits)
	if err != nil {
		return nil
	}
	st.Container = string(nt.Format)
	ot, err := container.Parse(old, oldLen, container.DefaultLimits)
	if err != nil || ot.Format != nt.Format {
		return nil
	}
	pairs := container.PairTensors(ot, nt)
	regions := container.Moves(pairs)
	st.PairedTensors, st.MovedTensors = len(pairs), len(regions)
	return container.NormalizeMoves(regions, oldLen, newLen)
}

// withRegions returns deltas (old minus new chunk offsets to try for the
// piece new[a:b]) with those of the regions overlapping the piece added,
// when the old window holds the whole piece at that delta.
func (c *coder) withRegions(deltas []int, a, b int) []int {
	rs := c.regions
	if len(rs) == 0 {
		return deltas
	}
	absA, absB := c.newBase+int64(a), c.newBase+int64(b)
	i := sort.Search(len(rs), func(i int) bool { return rs[i].NewOffset+rs[i].Length > absA })
	for ; i < len(rs) && rs[i].NewOffset < absB; i++ {
		// old window offset of new chunk offset p: p + d.
		d64 := rs[i].OldOffset - rs[i].NewOffset + c.newBase - c.oldBase
		if int64(a)+d64 < 0 || int64(b)+d64 > int64(len(c.old)) {
			continue
		}
		if d := int(d64); !slices.Contains(deltas, d) {
			deltas = append(deltas, d)
		}
	}
	return deltas
}

// gapByRegion codes new[a:b] as gap does, cut at the regions' bounds so
// that no piece straddles two tensors that moved differently.
func (c *coder) gapByRegion(a, b int, deltas []int) error {
	rs := c.regions
	i := sort.Search(len(rs), func(i int) bool { return rs[i].NewOffset+rs[i].Length > c.newBase+int64(a) })
	for a < b {
		cut := b
		if i < len(rs) {
			if start := rs[i].NewOffset - c.newBase; start > int64(a) {
				cut = int(min(int64(b), start))
			} else {
				cut, i = int(min(int64(b), rs[i].NewOffset+rs[i].Length-c.newBase)), i+1
			}
		}
		if err := c.gap(a, cut, deltas); err != nil {
			return err
		}
		a = cut
	}
	return nil
}
