package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/directio"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// How a file of the version being installed was obtained (FileFetch.Method).
const (
	// MethodFull: the file was downloaded whole (or found complete in
	// staging).
	MethodFull = "full"
	// MethodDelta: the file was rebuilt from the same file of an installed
	// version (FileFetch.Base) with a signed patch.
	MethodDelta = "delta"
	// MethodDeltaFallback: a patch was tried and abandoned
	// (FileFetch.Code says why); the file was then downloaded whole.
	MethodDeltaFallback = "delta-fallback"
)

// FileFetch reports how one file of the version an update installs was
// obtained in this run.
type FileFetch struct {
	File   string `json:"file"`
	Method string `json:"method"`
	// Base is the installed version the patch applies to (delta and
	// delta-fallback).
	Base string `json:"base,omitempty"`
	// Code and Message say why the patch was abandoned (delta-fallback).
	Code    Code   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Bytes counts the bytes received from the network for this file in
	// this run, its patch included.
	Bytes int64 `json:"bytes"`
	// PatchBytes counts the bytes of the patch among them.
	PatchBytes int64 `json:"patch_bytes,omitempty"`
	// Length is the file's signed length: what a full download transfers.
	Length int64 `json:"length"`
}

// defaultDeltaMaxDuration bounds the time one patch may take to apply.
const defaultDeltaMaxDuration = 10 * time.Minute

// deltaPlan is the patch chosen for one payload file, from signed metadata
// and the installed versions only: nothing is downloaded to choose it.
type deltaPlan struct {
	file  string
	base  string                // the installed version the patch applies to
	part  string                // where the patch is staged
	patch *metadata.TargetFiles // the patch target (nil if err)
	baseT *metadata.TargetFiles // the base version's signed target of file (nil if err)
	path  string                // the installed base file
	err   error                 // why the patch is refused before any download
	// work is the update's patch work budget, shared by all its plans.
	work *delta.Budget
}

// planDeltas picks, for each payload file of cand, a signed patch from a
// version installed on this device: the active version first, then the
// previous one, then any other installed version, newest first. Files
// without a usable base, or whose full download is already under way in
// staging, get no plan. A plan whose patch the signed metadata or the
// installed base rules out carries the reason in err: it is reported and
// the file downloaded whole.
func (u *run) planDeltas(s *tufsession.Session, cand *candidate, fs map[string]*metadata.TargetFiles) map[string]*deltaPlan {
	if u.req.NoDelta || len(cand.custom.Deltas) == 0 {
		return nil
	}
	bases := u.installedBases(cand.version)
	if len(bases) == 0 {
		return nil
	}
	v := cand.version.String()
	plans := map[string]*deltaPlan{}
	var rebuilt int64 // bytes the usable plans rebuild
	for _, name := range cand.custom.Files {
		refs := cand.custom.Deltas[name]
		if len(refs) == 0 {
			continue
		}
		var ref *targets.DeltaRef
	pick:
		for _, b := range bases {
			for i := range refs {
				if refs[i].Base == b {
					ref = &refs[i]
					break pick
				}
			}
		}
		if ref == nil {
			continue
		}
		part := u.p.StagedPatch(v, ref.Base, name)
		if !deltaStagingAllows(filepath.Join(u.p.StagingFor(v), name+devstate.PartSuffix), part, fs[name].Length) {
			continue
		}
		p := &deltaPlan{file: name, base: ref.Base, part: part, path: filepath.Join(u.p.Version(ref.Base), name)}
		p.patch, p.baseT, p.err = u.checkPatch(s, cand, name, fs[name], *ref, p.path)
		plans[name] = p
		if p.err == nil {
			rebuilt += fs[name].Length
		}
	}
	// One budget for all the patches of the update, proportional to what
	// they rebuild (delta.WorkBudget: every patch Diff writes fits with a
	// wide margin): patches that ask for more work are abandoned, and
	// their files downloaded whole.
	work := delta.NewBudget(delta.WorkBudget(rebuilt))
	for _, p := range plans {
		p.work = work
	}
	return plans
}

// deltaStagingAllows reports whether a file may take the delta path given
// what staging holds: not when the file is complete there (the download
// step re-hashes and uses it), nor when a full download of it is under
// way (a partial file and no staged patch: an earlier run fell back, or
// never tried a patch), so that a device interrupted again and again still
// makes progress.
func deltaStagingAllows(filePart, patchPart string, length int64) bool {
	fi, err := os.Stat(filePart)
	if err != nil || fi.Size() == 0 {
		return true
	}
	if fi.Size() >= length {
		return false
	}
	_, err = os.Stat(patchPart)
	return err == nil
}

// installedBases lists the versions installed on this device that are
// older than v, in order of preference: the active version, the previous
// one, then the others newest first.
func (u *run) installedBases(v targets.Version) []string {
	var out []string
	seen := map[string]bool{}
	add := func(b string) {
		bv, err := targets.ParseVersion(b)
		if b == "" || seen[b] || err != nil || bv.Compare(v) >= 0 || !dirExists(u.p.Version(b)) {
			return
		}
		seen[b] = true
		out = append(out, b)
	}
	if u.ptr != nil {
		add(u.ptr.Version)
		add(u.ptr.Previous)
	}
	entries, _ := os.ReadDir(u.p.Dir)
	var others []targets.Version
	for _, e := range entries {
		if bv, err := targets.ParseVersion(e.Name()); err == nil && e.IsDir() {
			others = append(others, bv)
		}
	}
	sort.Slice(others, func(i, j int) bool { return newerFirst(others[i], others[j]) })
	for _, o := range others {
		add(o.String())
	}
	return out
}

// checkPatch resolves the patch ref names for file of cand and checks,
// from signed metadata and the installed base's size only, that it may be
// used: a delta target of the same model, version and file, for the base
// ref names, smaller than the file; and the installed base file has the
// length the base version's signed target gives it.
func (u *run) checkPatch(s *tufsession.Session, cand *candidate, file string, tf *metadata.TargetFiles, ref targets.DeltaRef, basePath string) (patch, baseT *metadata.TargetFiles, err error) {
	m, v := cand.custom.ModelID, cand.custom.Version
	refuse := func(format string, args ...any) error {
		return codes.Errorf(DeltaFailed, nil, "patch of %s %s %s from %s: %s", m, v, file, ref.Base, fmt.Sprintf(format, args...))
	}
	if want := targets.DeltaPath(m, v, ref.Base, file); ref.Target != want {
		return nil, nil, refuse("listed as %s, want %s", ref.Target, want)
	}
	patch, err = s.TargetInfo(ref.Target)
	if err != nil {
		return nil, nil, err
	}
	pc, err := targets.ParseCustom(ref.Target, patch.Custom)
	if err != nil {
		return nil, nil, codes.Errorf(DeltaFailed, err, "patch of %s %s %s from %s", m, v, file, ref.Base)
	}
	if pc.Kind != targets.KindDelta || pc.ModelID != m || pc.Version != v || pc.File != file || pc.BaseVersion != ref.Base {
		return nil, nil, refuse("its signed metadata describes a %s of %s %s %s from %q", pc.Kind, pc.ModelID, pc.Version, pc.File, pc.BaseVersion)
	}
	if patch.Length >= tf.Length {
		return nil, nil, refuse("%d bytes, not smaller than the %d-byte file", patch.Length, tf.Length)
	}
	bp := targets.TargetPath(m, ref.Base, file)
	baseT, err = s.TargetInfo(bp)
	if err != nil {
		return nil, nil, err
	}
	if bc, err := targets.ParseCustom(bp, baseT.Custom); err != nil || bc.Kind != targets.KindPayload {
		return nil, nil, codes.Errorf(DeltaFailed, err, "base %s is not a payload target", bp)
	}
	fi, err := os.Stat(basePath)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != baseT.Length {
		return nil, nil, codes.Errorf(HashMismatch, err, "installed %s %s %s is missing or has the wrong size", m, ref.Base, file)
	}
	return patch, baseT, nil
}

// tryDelta rebuilds file into its staging part (dest) from the plan's
// base and patch: the patch is downloaded like any target (resumable,
// bounded by its signed length, hash-checked), applied with limits, and
// the output checked against the file's signed length and SHA-256. It
// reports whether the file is ready. Any failure is logged (event
// delta_failed), the staged output and patch are discarded (a partial
// patch cut by the network is kept for the next run), and the caller
// downloads the file whole; only a cancelled context is an error.
func (u *run) tryDelta(ctx context.Context, s *tufsession.Session, p *deltaPlan, tf *metadata.TargetFiles, dest string, ff *FileFetch) (bool, error) {
	v := u.res.ToVersion
	ff.Method, ff.Base = MethodDeltaFallback, p.base
	fail := func(err error) (bool, error) {
		if ctx.Err() != nil {
			return false, codes.Errorf(Network, ctx.Err(), "patching %s", p.file)
		}
		ff.Code, ff.Message = CodeOf(err), ReasonOf(err)
		u.c.event(Event{Event: EventDeltaFailed, ModelID: u.req.ModelID, FromVersion: p.base, ToVersion: v, Code: ff.Code})
		return false, nil
	}
	if p.err != nil {
		return fail(p.err)
	}
	// Applying a patch costs at least 2 work units per output byte (each
	// byte written, and read from the base or a stream): not worth
	// downloading one that the budget left cannot cover.
	if left := p.work.Left(); left < 2*tf.Length {
		return fail(codes.Errorf(DeltaFailed, fmt.Errorf("%w: the update's patch work budget is used up (%d work units left)", delta.ErrLimit, left), "patch of %s from %s", p.file, p.base))
	}
	patchPart := p.part
	if err := u.p.FS.MkdirAll(filepath.Dir(patchPart), 0o700); err != nil {
		return fail(codes.Errorf(codes.ClassifyFS(err), err, "staging"))
	}
	r, err := u.c.dl.Fetch(ctx, s.URLOf(p.patch), p.patch, patchPart, p.file+" (patch from "+p.base+")")
	u.res.BytesDownloaded += r.Transferred
	u.res.BytesResumed += r.ResumedFrom
	ff.Bytes += r.Transferred
	ff.PatchBytes += r.Transferred
	if err != nil {
		if CodeOf(err) != Network {
			os.Remove(patchPart)
		}
		return fail(err)
	}
	if err := applyPatch(ctx, p, tf, patchPart, dest, u.c.opts.DeltaMaxDuration); err != nil {
		os.Remove(dest)
		if ctx.Err() == nil {
			os.Remove(patchPart) // an interrupted run keeps it for the next one
		}
		return fail(err)
	}
	os.Remove(patchPart)
	ff.Method, ff.Code = MethodDelta, ""
	u.c.event(Event{Event: EventDeltaApplied, ModelID: u.req.ModelID, FromVersion: p.base, ToVersion: v, Bytes: ff.PatchBytes})
	return true, nil
}

// applyPatch writes to dest the file that patchPath rebuilds from the
// installed base, fsyncs it, and checks it against the signed target tf.
func applyPatch(ctx context.Context, p *deltaPlan, tf *metadata.TargetFiles, patchPath, dest string, maxDuration time.Duration) error {
	base, err := devstate.OpenRegular(p.path) // an installed file: never a link or FIFO
	if err != nil {
		return codes.Errorf(HashMismatch, err, "installed base %s %s", p.base, p.file)
	}
	defer base.Close()
	bfi, err := base.Stat()
	if err != nil || !bfi.Mode().IsRegular() || bfi.Size() != p.baseT.Length {
		return codes.Errorf(HashMismatch, err, "installed base %s %s has changed", p.base, p.file)
	}
	patch, err := devstate.OpenRegular(patchPath)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staged patch of %s", p.file)
	}
	defer patch.Close()
	pfi, err := patch.Stat()
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staged patch of %s", p.file)
	}
	// The header names what the patch was made from and what it rebuilds:
	// both must be what the signed metadata says, before any work.
	hdr, err := delta.ReadHeader(patch, pfi.Size())
	if err != nil {
		return codes.Errorf(DeltaFailed, err, "patch of %s from %s", p.file, p.base)
	}
	switch {
	case hdr.BaseLength != p.baseT.Length || !bytes.Equal(hdr.BaseSHA256[:], p.baseT.Hashes["sha256"]):
		return codes.Errorf(DeltaFailed, nil, "patch of %s from %s: made for another base file (%d bytes, SHA-256 %x)", p.file, p.base, hdr.BaseLength, hdr.BaseSHA256[:])
	case hdr.TargetLength != tf.Length || !bytes.Equal(hdr.TargetSHA256[:], tf.Hashes["sha256"]):
		return codes.Errorf(DeltaFailed, nil, "patch of %s from %s: rebuilds another file (%d bytes, SHA-256 %x)", p.file, p.base, hdr.TargetLength, hdr.TargetSHA256[:])
	}

	f, err := safefs.OpenFile(dest, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staging %s", p.file)
	}
	defer f.Close()
	w := &checkedWriter{ctx: ctx, f: f, limit: tf.Length}
	// Direct I/O where available, as for downloads (package directio).
	if dw := directio.Open(dest, f, 0); dw != nil {
		defer dw.Close()
		w.direct = dw
	}
	// The work budget bounds the work deterministically; MaxDuration is a
	// secondary guard.
	err = safeApply(base, bfi.Size(), patch, pfi.Size(), w, delta.Limits{
		MaxOutput: tf.Length, MaxPatchRatio: 1, MaxDuration: maxDuration, Work: p.work,
	})
	if w.direct != nil && err == nil {
		if ferr := w.direct.Flush(); ferr != nil {
			return codes.Errorf(codes.ClassifyFS(ferr), ferr, "writing %s", p.file)
		}
	}
	if err != nil {
		switch {
		case w.err != nil && ctx.Err() != nil:
			return codes.Errorf(Network, ctx.Err(), "patching %s", p.file)
		case w.err != nil && errors.Is(w.err, errTooLong):
			return codes.Errorf(DeltaFailed, w.err, "patch of %s from %s", p.file, p.base)
		case w.err != nil:
			return codes.Errorf(codes.ClassifyFS(w.err), w.err, "writing %s", p.file)
		case errors.Is(err, delta.ErrTarget), errors.Is(err, delta.ErrBase):
			// A wrong output, or a base that does not read as the patch
			// expects: the installed base was changed, or the patch is bad
			// (a signed patch can be hostile too). Only the base's hash
			// tells which; a patch's fault never blames the base.
			if verr := verifyFile(p.path, p.baseT, make([]byte, 1<<20)); verr != nil {
				return codes.Errorf(HashMismatch, verr, "%s rebuilt from the installed %s: %v; re-hashed, the installed base", p.file, p.base, err)
			}
		}
		return codes.Errorf(DeltaFailed, err, "patch of %s from %s", p.file, p.base)
	}
	// The final check is Apply's: it hashed every byte it handed to w and
	// failed with ErrTarget (HASH_MISMATCH above) unless the output has the
	// length and SHA-256 of the header, which were checked above to be the
	// signed ones. Hashing again here would read the model a second time.
	if w.n != tf.Length {
		return codes.Errorf(HashMismatch, nil, "%s rebuilt from %s: %d bytes, signed %d", p.file, p.base, w.n, tf.Length)
	}
	if err := f.Sync(); err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "syncing %s", p.file)
	}
	return nil
}

// safeApply is delta.Apply, with a panic (a bug the patch found) turned
// into an error: a hostile patch must not take the application down.
// Apply itself recovers panics in each of its goroutines (delta's
// ErrInternal); this covers the caller's side of the call.
func safeApply(base *os.File, baseLen int64, patch *os.File, patchLen int64, w *checkedWriter, lim delta.Limits) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("applying the patch panicked: %v", r)
		}
	}()
	_, err = delta.Apply(base, baseLen, patch, patchLen, w, lim)
	return err
}

var errTooLong = errors.New("the patch writes more than the signed length")

// checkedWriter writes the rebuilt file, never past the signed length,
// and stops when the update is cancelled.
type checkedWriter struct {
	ctx    context.Context
	f      *os.File
	direct *directio.Writer // writes instead of f when set
	n      int64
	limit  int64
	err    error
}

func (w *checkedWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.err = err
		return 0, err
	}
	if int64(len(p)) > w.limit-w.n {
		w.err = errTooLong
		return 0, w.err
	}
	var n int
	var err error
	if w.direct != nil {
		n, err = w.direct.Write(p)
	} else {
		n, err = w.f.Write(p)
	}
	if (w.n+int64(n))>>20 > w.n>>20 {
		crashpoint.Hit("client.delta.written") // every MiB of the rebuilt file
	}
	w.n += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}
