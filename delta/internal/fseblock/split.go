package fseblock

// Block splitting: the encoder chooses the length of its blocks.

const (
	// minSplit is the smallest half a block is split into, and
	// splitGain how much smaller (as a share) the halves' estimated
	// order-0 sizes must be than the whole's: the estimate does not see
	// what a Context block gains, which favours splitting. Measured on
	// the real pairs (docs/delta.md section 5): 0 made pose-bundle 0.2
	// points larger, 0.01 gained half as much as 0.005.
	minSplit  = 16 << 10
	splitGain = 0.005
)

// appendSplit appends blk as one block, or as two halves each coded the
// same way, when the halves' estimated sizes are smaller: weights drift
// (one layer's scale to the next), and a table per half fits each better
// than one table fits both. The choice is estimated, not coded both ways:
// coding every block and its halves in full cost 5 times the diff CPU.
func (e *Encoder) appendSplit(dst, blk []byte, spans []Span) []byte {
	if len(blk) >= 2*minSplit {
		half := len(blk) / 2
		var first, rest []Span
		at := 0
		for _, s := range spans {
			switch {
			case at+s.Len <= half:
				first = append(first, s)
			case at >= half:
				rest = append(rest, s)
			default:
				first = append(first, Span{s.Class, half - at})
				rest = append(rest, Span{s.Class, at + s.Len - half})
			}
			at += s.Len
		}
		if estimate(blk[:half], first)+estimate(blk[half:], rest) < estimate(blk, spans)*(1-splitGain) {
			dst = e.appendSplit(dst, blk[:half], first)
			return e.appendSplit(dst, blk[half:], rest)
		}
	}
	// appendPlanes renumbers the classes of its spans.
	bs := append(e.spansCopy[:0], spans...)
	e.spansCopy = bs
	start := len(dst)
	// A block of several planes is coded as one only when the
	// planes block is not smaller: not worth a Context trial.
	e.noContext = len(bs) > 1
	dst = e.appendSingle(dst, blk)
	e.noContext = false
	if len(bs) > 1 {
		e.sub = e.appendPlanes(e.sub[:0], blk, bs)
		if len(e.sub) < len(dst)-start {
			dst = append(dst[:start], e.sub...)
		}
	}
	return e.tryZstd(dst, start, blk)
}

// estimate is the estimated order-0 coded size of blk, one table per class.
func estimate(blk []byte, spans []Span) float64 {
	var hist [MaxClasses + 1][256]int
	var n [MaxClasses + 1]int
	pos := 0
	if len(spans) == 0 {
		spans = []Span{{0, len(blk)}}
	}
	for _, s := range spans {
		c := min(int(s.Class), MaxClasses)
		for _, b := range blk[pos : pos+s.Len] {
			hist[c][b]++
		}
		n[c] += s.Len
		pos += s.Len
	}
	var cost float64
	for c := range hist {
		cost += histCost(&hist[c], n[c])
	}
	return cost
}
