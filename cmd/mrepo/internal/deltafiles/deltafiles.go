package deltafiles

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/directio"
	"github.com/edgetuf/edgetuf/internal/patchstat"
	"github.com/spf13/afero"
)

// CreateOptions tune Create.
type CreateOptions struct {
	// ChunkSize is passed to delta.Options (0: the package default).
	ChunkSize int64
	// Progress, if set, is called as NEW is read (name is NEW; done and
	// total count the bytes read of about twice its length, as the diff
	// hashes it, then diffs it). It reaches total once, at the end.
	Progress func(name string, done, total int64)
	// OldManifest and NewManifest name the TF.js model.json files that
	// describe OLD and NEW, weight shards (both or neither): Diff pairs
	// their tensors. Without them, a model.json next to each file that
	// names it is used. NoContainers turns off all tensor pairing.
	OldManifest, NewManifest string
	NoContainers             bool
	// FastApply is delta.Options.FastApply: no adaptive blocks.
	FastApply bool
}

// CreateResult describes a patch Create wrote.
type CreateResult struct {
	Old         string `json:"old"`
	New         string `json:"new"`
	Patch       string `json:"patch"`
	OldLength   int64  `json:"old_length"`
	NewLength   int64  `json:"new_length"`
	PatchLength int64  `json:"patch_length"`
	// Percent is the patch length as a share of the new file's, in
	// percent, rounded to one decimal.
	Percent float64 `json:"percent"`
	// PatchSHA256 is the SHA-256 of the patch file.
	PatchSHA256 string       `json:"patch_sha256"`
	Seconds     float64      `json:"seconds"`
	Stats       *delta.Stats `json:"stats"`
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// MaxPatchRatio is delta.Limits.MaxPatchRatio (0: the package default,
	// a patch larger than the file it rebuilds is refused).
	MaxPatchRatio float64
	// MaxDuration bounds the time Apply may take (0: no limit).
	MaxDuration time.Duration
	// MaxOutput refuses a patch that claims a longer output (0: no limit).
	MaxOutput int64
	// Progress, if set, is called as OUT is written (name is OUT; done and
	// total count its bytes).
	Progress func(name string, done, total int64)
}

// ApplyResult describes a file Apply rebuilt.
type ApplyResult struct {
	Old         string  `json:"old"`
	Patch       string  `json:"patch"`
	Out         string  `json:"out"`
	OldLength   int64   `json:"old_length"`
	PatchLength int64   `json:"patch_length"`
	OutLength   int64   `json:"out_length"`
	OutSHA256   string  `json:"out_sha256"`
	Percent     float64 `json:"percent"`
	Seconds     float64 `json:"seconds"`
}

// openRegular opens a regular file for reading and returns its size.
func openRegular(fs afero.Fs, name, what string) (afero.File, int64, error) {
	// Checked before opening too: opening a FIFO (a model.json planted next
	// to a model, say) blocks until a writer comes.
	if fi, err := fs.Stat(name); err == nil && !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: %s is not a regular file", what, name)
	}
	f, err := fs.Open(name)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %s is not a regular file", what, name)
	}
	return f, fi.Size(), nil
}

// samePath reports whether two names refer to the same file (or the same
// name, when neither exists).
func samePath(fs afero.Fs, a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, err1 := fs.Stat(a)
	fb, err2 := fs.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// Create writes to patchPath a patch that rebuilds newPath from
// oldPath (package delta's format). The patch is written to a temporary
// file next to patchPath, fsynced and renamed: patchPath is either the
// complete patch or untouched. Neither file is read into memory whole.
func Create(fs afero.Fs, oldPath, newPath, patchPath string, opts CreateOptions) (*CreateResult, error) {
	if samePath(fs, patchPath, oldPath) || samePath(fs, patchPath, newPath) {
		return nil, fmt.Errorf("PATCH %s must be another file than OLD and NEW", patchPath)
	}
	start := time.Now()
	of, oldLen, err := openRegular(fs, oldPath, "OLD")
	if err != nil {
		return nil, err
	}
	defer of.Close()
	nf, newLen, err := openRegular(fs, newPath, "NEW")
	if err != nil {
		return nil, err
	}
	defer nf.Close()
	tmp, err := atomicfs.Create(fs, filepath.Dir(patchPath), 0o644)
	if err != nil {
		return nil, fmt.Errorf("PATCH: %w", err)
	}
	defer tmp.Abort()
	h := sha256.New()
	cw := &patchstat.Writer{W: io.MultiWriter(tmp, h)}
	var src io.ReaderAt = nf
	total := 2 * newLen
	if opts.Progress != nil {
		opts.Progress(newPath, 0, total)
		src = &patchstat.ReaderAt{R: nf, Each: func(n int64) { opts.Progress(newPath, min(n, max(total-1, 0)), total) }}
	}
	regions, tensorStats, err := tensorRegions(fs, oldPath, oldLen, newPath, newLen, opts)
	if err != nil {
		return nil, err
	}
	dopts := delta.Options{ChunkSize: opts.ChunkSize, Regions: regions, NoContainers: opts.NoContainers, FastApply: opts.FastApply}
	defer limitHeap(delta.DiffMemory(oldLen, newLen, dopts))()
	stats, err := delta.Diff(of, oldLen, src, newLen, cw, dopts)
	if err != nil {
		return nil, err
	}
	if tensorStats != nil {
		stats.Container, stats.PairedTensors, stats.MovedTensors = tensorStats.Container, tensorStats.PairedTensors, tensorStats.MovedTensors
	}
	if opts.Progress != nil {
		opts.Progress(newPath, total, total)
	}
	if err := tmp.Commit(patchPath); err != nil {
		return nil, fmt.Errorf("PATCH: %w", err)
	}
	return &CreateResult{
		Old: oldPath, New: newPath, Patch: patchPath,
		OldLength: oldLen, NewLength: newLen, PatchLength: cw.N,
		Percent: patchstat.Percent(cw.N, newLen), PatchSHA256: hex.EncodeToString(h.Sum(nil)),
		Seconds: time.Since(start).Seconds(), Stats: stats,
	}, nil
}

// heapLimit serializes the diffs of one process: the memory limit is the
// process's, so two diffs each setting it for its own sizes and restoring
// it would leave it wrong. (mrepo runs one; its tests may run several.)
var heapLimit sync.Mutex

// limitHeap lowers the process's soft memory limit to n bytes (never
// raises it) until restore is called, and holds heapLimit meanwhile.
// Diff's live heap is large and known from the sizes; without a limit the
// collector would let the heap grow to twice it between collections.
func limitHeap(n int64) (restore func()) {
	heapLimit.Lock()
	prev := debug.SetMemoryLimit(-1)
	if n > 0 && n < prev {
		debug.SetMemoryLimit(n)
	}
	return func() {
		debug.SetMemoryLimit(prev)
		heapLimit.Unlock()
	}
}

// Apply rebuilds a file from oldPath and the patch at patchPath and
// writes it to outPath, atomically and only if everything checks: the
// base's length and SHA-256 are those the patch names, the patch is well
// formed and within the limits, and the output has the length and SHA-256
// the patch names. On any error outPath is left as it was.
func Apply(fs afero.Fs, oldPath, patchPath, outPath string, opts ApplyOptions) (*ApplyResult, error) {
	if samePath(fs, outPath, oldPath) || samePath(fs, outPath, patchPath) {
		return nil, fmt.Errorf("OUT %s must be another file than OLD and PATCH", outPath)
	}
	start := time.Now()
	of, oldLen, err := openRegular(fs, oldPath, "OLD")
	if err != nil {
		return nil, err
	}
	defer of.Close()
	pf, patchLen, err := openRegular(fs, patchPath, "PATCH")
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	// The header first: a wrong base or a malformed patch is reported
	// before an output file is even created.
	hdr, err := delta.ReadHeader(pf, patchLen)
	if err != nil {
		return nil, err
	}
	if hdr.BaseLength != oldLen {
		return nil, fmt.Errorf("%w: OLD is %d bytes, the patch was made from a file of %d bytes", delta.ErrBase, oldLen, hdr.BaseLength)
	}
	// Direct I/O where available: the output is written once, fsynced,
	// and not read back soon (package directio). Not for a small output,
	// where its extra open and synchronous writes cost more than they save.
	create := atomicfs.Create
	if directio.Worthwhile(hdr.TargetLength) {
		create = atomicfs.CreateLarge
	}
	tmp, err := create(fs, filepath.Dir(outPath), 0o644)
	if err != nil {
		return nil, fmt.Errorf("OUT: %w", err)
	}
	defer tmp.Abort()
	cw := &patchstat.Writer{W: tmp}
	if opts.Progress != nil {
		cw.Each = func(n int64) { opts.Progress(outPath, n, hdr.TargetLength) }
	}
	lim := delta.Limits{MaxOutput: opts.MaxOutput, MaxPatchRatio: opts.MaxPatchRatio, MaxDuration: opts.MaxDuration, VerifyBase: true}
	// Apply hashes exactly the bytes it hands to cw and fails unless they
	// have the length and SHA-256 the patch names (a compact patch names
	// only a prefix of it); the header it returns has the output's whole
	// SHA-256.
	if hdr, err = delta.Apply(of, oldLen, pf, patchLen, cw, lim); err != nil {
		return nil, err
	}
	if cw.N != hdr.TargetLength {
		return nil, fmt.Errorf("%w: wrote %d bytes, the patch names %d", delta.ErrTarget, cw.N, hdr.TargetLength)
	}
	sum := hdr.TargetSHA256[:]
	if err := tmp.Commit(outPath); err != nil {
		return nil, fmt.Errorf("OUT: %w", err)
	}
	return &ApplyResult{
		Old: oldPath, Patch: patchPath, Out: outPath,
		OldLength: oldLen, PatchLength: patchLen, OutLength: cw.N, OutSHA256: hex.EncodeToString(sum),
		Percent: patchstat.Percent(patchLen, cw.N), Seconds: time.Since(start).Seconds(),
	}, nil
}
