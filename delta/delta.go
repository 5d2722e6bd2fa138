package delta

import (
	"errors"
	"fmt"
	"time"

	"github.com/edgetuf/edgetuf/delta/internal/head"
)

// Format constants.
const (
	Magic      = head.Magic
	Version    = head.Version
	HeaderSize = head.FullLen
	// SegmentHeaderSize is the size of each segment's header.
	SegmentHeaderSize = 16
	// MaxSegment bounds the target bytes one segment rebuilds.
	MaxSegment = 64 << 20
	// ShuffleBlock is the block of target bytes within which the diff
	// bytes of a wide XOR or SUB record are byte-plane shuffled.
	ShuffleBlock = 64 << 10
)

// Errors. Every error Apply and Diff return wraps exactly one of these,
// so callers can tell a bad patch from a wrong base or a hit limit.
var (
	// ErrFormat: the patch is malformed (magic, version, truncation,
	// a record that points outside the base or past the target,
	// trailing data, a stream that does not decompress).
	ErrFormat = errors.New("malformed patch")
	// ErrBase: the base is not the file the patch was made from (length
	// or SHA-256 differs).
	ErrBase = errors.New("patch does not apply to this base")
	// ErrTarget: the output does not have the length and SHA-256 the
	// patch (or the caller) expects.
	ErrTarget = errors.New("patched output does not match the target")
	// ErrLimit: a limit of Limits was hit (the work budget included).
	ErrLimit = errors.New("patch exceeds a limit")
	// ErrInternal: a bug: one of Apply's stages panicked (decompressing,
	// rebuilding, hashing or writing), on this patch or in the caller's
	// writer. Apply recovers the panic in the goroutine where it happened,
	// stops its other goroutines and returns this error.
	ErrInternal = errors.New("internal error applying a patch")
)

// Header is the fixed part at the start of every patch.
type Header struct {
	BaseLength   int64
	BaseSHA256   [32]byte
	TargetLength int64
	TargetSHA256 [32]byte
	// HashPrefix: the patch names the first 32 bytes of each SHA-256, or
	// 8 (compact form; the rest zero, but Apply's after success: output's).
	HashPrefix int
	form       *head.Header // as read
}

// BaseIs and TargetIs report whether the patch was made from, and
// rebuilds, a file of this length and SHA-256, as its HashPrefix tells.
func (h *Header) BaseIs(n int64, sha256 []byte) bool {
	return n == h.BaseLength && head.Names(h.BaseSHA256, h.HashPrefix, sha256)
}
func (h *Header) TargetIs(n int64, sha256 []byte) bool {
	return n == h.TargetLength && head.Names(h.TargetSHA256, h.HashPrefix, sha256)
}

// Limits bound what Apply may do. A zero field means no limit, except
// where said otherwise.
type Limits struct {
	// MaxOutput is the largest target length accepted (the signed length
	// of the file the patch rebuilds). Apply refuses a header claiming
	// more, and never writes more.
	MaxOutput int64
	// MaxPatchRatio is the largest patch size accepted, as a multiple of
	// the target length (default 1.0: a patch larger than the file it
	// rebuilds is refused; a patch of any size is allowed for targets
	// under 4 KiB).
	MaxPatchRatio float64
	// MaxDuration bounds the wall-clock time of Apply. Its decompressing,
	// hashing and writing goroutines run at most a few buffers ahead of
	// the one that checks the limit, so this bounds its CPU time too, to
	// a small multiple of MaxDuration.
	//
	// This is a secondary guard: Work bounds what a patch can make Apply
	// do deterministically, whatever the machine's speed.
	MaxDuration time.Duration
	// Work is the work budget Apply draws from (see Budget); Apply fails
	// with ErrLimit as soon as the patch would need more. nil: a budget
	// of WorkBudget(the header's target length) for this call alone. Pass
	// one Budget to several calls to bound their total (the device client
	// gives one to all the patches of an update).
	Work *Budget
	// VerifyBase makes a wrong base an ErrBase error rather than an
	// ErrTarget one: when the output does not match, Apply hashes the base
	// and compares it with the header. (The base length is always checked
	// up front, and a wrong base always fails the final output check; the
	// base is not hashed when all goes well.)
	VerifyBase bool
	// BaseSHA256 and TargetSHA256: the whole SHA-256 the caller expects
	// (signed ones). Apply refuses a patch naming others before writing
	// (ErrBase, ErrTarget), and checks the whole output hash, not a prefix.
	BaseSHA256, TargetSHA256 []byte
}

// Stats describes a patch Diff wrote.
type Stats struct {
	PatchLength int64 `json:"patch_length"`
	// Bytes of target produced by each kind of record.
	Copied   int64 `json:"copied"`
	XORed    int64 `json:"xored"`
	Subbed   int64 `json:"subbed"`
	Inserted int64 `json:"inserted"`
	Records  int64 `json:"records"`
	Segments int   `json:"segments"`
	// Chunked reports that the bounded-memory mode was used.
	Chunked bool `json:"chunked"`
	// Container is the model container format of the new file ("" if
	// none, or Options.Regions was given); PairedTensors counts the
	// tensors paired with one of the old file, MovedTensors those of them
	// at another offset (the regions the coder used).
	Container     string `json:"container,omitempty"`
	PairedTensors int    `json:"paired_tensors,omitempty"`
	MovedTensors  int    `json:"moved_tensors,omitempty"`
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// panicErr describes a panic recovered in one of Apply's stages.
func panicErr(stage string, r any) error {
	return fmt.Errorf("%w: %s panicked: %v", ErrInternal, stage, r)
}

func limitErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrLimit, fmt.Sprintf(format, args...))
}
