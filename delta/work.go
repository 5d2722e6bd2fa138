package delta

import (
	"math"
	"sync/atomic"
)

// Patch work is counted in work units, deterministically (never by the
// clock), as Apply rebuilds the target: about one unit per byte it
// writes, reads from the base or takes from a diff or extra stream, plus
// fixed costs for what costs time whatever its size: each record decoded,
// each read of the base (a system call for a file) and each segment
// started (three decoders reset, two goroutines started).
//
// The fixed costs were calibrated so that a unit costs about the same
// CPU time however a patch spends it: a patch of one-byte COPY records
// (the cheapest patch to send, the dearest to apply: 1.4 KB of patch made
// a device work 7-10 s on a 4 MiB base) costs about as much per unit as a
// legitimate patch's bulk bytes. docs/delta.md gives the measurements.
//
// An FSE stream's blocks (fsestream.go) cost workPerBlock each, and as
// much again for each Stored, FSE, RLE or Huffman block decoded in it
// (itself, or a Planes class, a Context bucket, a Packed block's inner
// block: each a table to read), plus one unit per data byte
// (workPerZstdByte for a Zstd block's), plus workPerSpan per span of a
// Planes block and pass over them: a stream of tiny blocks, or of Zstd
// blocks full of empty frames, made the decoder work 10-2,900 ns per
// unit before blocks were charged, Planes blocks of 2-byte spans 4.9.
const (
	workPerRecord   = 64
	workPerBaseRead = 1024
	workPerSegment  = 64 << 10
	workPerBlock    = 1024
	workPerZstdByte = 4
	workPerSpan     = 4
	// workPerZstdStreamByte is charged per byte of a zstd-coded control,
	// diff or extra stream, as its decoder reads it.
	workPerZstdStreamByte = 4
)

// WorkPerByte and WorkBase size the default work budget (WorkBudget):
// legitimate patches of the benchmark pairs (internal/modelpairs) use 2-4
// units per output byte, and the worst patch Diff can write (a change
// every few dozen bytes, so a record every ~10 bytes) about 12; the budget
// allows 64, and WorkBase covers the fixed costs of small files.
const (
	WorkPerByte = 64
	WorkBase    = 16 << 20
)

// WorkBudget is the work budget for rebuilding outputLen bytes:
// WorkPerByte units per byte plus WorkBase. Every patch Diff writes fits
// in it with a wide margin.
func WorkBudget(outputLen int64) int64 {
	if outputLen < 0 {
		outputLen = 0
	}
	if outputLen > (math.MaxInt64-WorkBase)/WorkPerByte {
		return math.MaxInt64
	}
	return WorkPerByte*outputLen + WorkBase
}

// Budget is an allowance of patch work units that Apply draws from (see
// Limits.Work). One Budget may serve several Apply calls one after
// another, not at the same time. Within one Apply, the goroutines that
// decode the diff and extra streams draw from it too, hence the atomics.
type Budget struct {
	left, used atomic.Int64
}

// NewBudget returns a budget of units work units.
func NewBudget(units int64) *Budget {
	b := new(Budget)
	b.left.Store(units)
	return b
}

// Left returns the units not yet used.
func (b *Budget) Left() int64 { return b.left.Load() }

// Used returns the units used so far.
func (b *Budget) Used() int64 { return b.used.Load() }

// spend takes n units, or fails with ErrLimit without taking them when
// fewer are left: the work is refused before it is done.
func (b *Budget) spend(n int64) error {
	for {
		left := b.left.Load()
		if n > left {
			return limitErr("the patch needs more work than its budget allows (%d work units used, %d left, %d more needed)", b.used.Load(), left, n)
		}
		if b.left.CompareAndSwap(left, left-n) {
			b.used.Add(n)
			return nil
		}
	}
}
