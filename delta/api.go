package delta

import (
	"io"
)

// Options tune Diff. The zero value is sensible.
type Options struct {
	// ChunkSize is the largest piece of the new file matched at once
	// (default 256 MiB). Files larger than one chunk are diffed chunk by
	// chunk, each against the region of the old file around the same
	// offsets, which bounds memory to a few chunk sizes whatever the file
	// size; data that moved farther than a chunk is then not found.
	ChunkSize int64

	// Regions pairs regions of the new file with regions of the old file
	// that hold the same data, moved and perhaps changed: Diff tries to
	// code each against its pair. nil: Diff reads the tensor tables of
	// both files when they are known model containers (package
	// delta/container) and pairs their tensors, unless NoContainers.
	Regions []Region
	// NoContainers turns off reading tensor tables when Regions is nil.
	NoContainers bool

	// FastApply never codes with the adaptive model (fseblock mode 8),
	// which Diff otherwise tries on targets under 16 MiB: such a patch
	// can be a few percent larger, and Apply decodes it at hundreds of
	// MB/s instead of about 3-4 MB/s (docs/delta.md section 5). For
	// fleets whose devices are short of CPU rather than bandwidth.
	FastApply bool

	// dump, when set (by a test of this package), sees each segment's
	// uncompressed streams. Unexported: a seam for tests that production
	// callers cannot reach, and no package-level state.
	dump func(ctrl, diff, extra []byte)
}

// Diff writes to patch a patch that rebuilds new (newLen bytes) from old
// (oldLen bytes). It reads both files once to hash them, then chunk by
// chunk; patch is written sequentially.
func Diff(old io.ReaderAt, oldLen int64, new io.ReaderAt, newLen int64, patch io.Writer, opts Options) (*Stats, error) {
	return diff(old, oldLen, new, newLen, patch, opts)
}

// ReadHeader reads and checks the fixed header of a patch of patchLen bytes.
func ReadHeader(patch io.ReaderAt, patchLen int64) (*Header, error) {
	return readHeader(patch, patchLen)
}

// Apply rebuilds the target from base (baseLen bytes) and patch (patchLen
// bytes), writing it sequentially to out, and returns the patch's header.
// It checks the base length (and, with lim.VerifyBase, its SHA-256), every
// record against the base and the target, the limits, and finally the
// length and SHA-256 of what it wrote. On any error the output is
// incomplete or wrong and must be discarded; the error wraps ErrFormat,
// ErrBase, ErrTarget or ErrLimit (ErrInternal for a panic in one of its
// stages: it never lets one through), unless it is out's own error.
// Memory stays bounded by fixed buffers whatever the sizes, and work by
// lim.Work. Apply runs goroutines of its own and waits for them
// before it returns, on every path; it calls patch.ReadAt from several of them, one call
// at a time, and base.ReadAt and out.Write from one goroutine each.
func Apply(base io.ReaderAt, baseLen int64, patch io.ReaderAt, patchLen int64, out io.Writer, lim Limits) (*Header, error) {
	return apply(base, baseLen, patch, patchLen, out, lim, nil)
}
