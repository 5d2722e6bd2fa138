package client

import (
	"context"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/client/internal/report"
	"github.com/edgetuf/edgetuf/client/internal/sealed"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// How a file of the version being installed was obtained
// (FileFetch.Method; client/internal/report says what each means).
const (
	MethodFull          = report.MethodFull
	MethodDelta         = report.MethodDelta
	MethodDeltaFallback = report.MethodDeltaFallback
	MethodLocal         = report.MethodLocal
	MethodLocalFallback = report.MethodLocalFallback
)

// FileFetch reports how one file of the version an update installs was
// obtained in this run.
type FileFetch = report.FileFetch

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
	// patchPlain: the patch's signed plaintext (an encrypted version's
	// patch is encrypted; nil otherwise).
	patchPlain *targets.Plaintext
	path       string // the installed base file
	err        error  // why the patch is refused before any download
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
	// An encrypted version installed encrypted must be the signed
	// ciphertext: no patch rebuilds that.
	if u.req.NoDelta || len(cand.custom.Deltas) == 0 || cand.custom.Encrypted != nil && u.c.opts.EncryptedAtRest {
		return nil
	}
	bases := devstate.InstalledBases(u.p, u.ptr, newerFirst, cand.version)
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
		if !devstate.DeltaStagingAllows(filepath.Join(u.p.StagingFor(v), name+devstate.PartSuffix), part, fs[name].Length) {
			continue
		}
		p := &deltaPlan{file: name, base: ref.Base, part: part, path: filepath.Join(u.p.Version(ref.Base), name)}
		p.patch, p.baseT, p.patchPlain, p.err = installed.CheckPatch(s.TargetInfo, cand.custom, name, fs[name], *ref, p.path)
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
	applied := patchPart
	if p.patchPlain != nil {
		// An encrypted patch: decrypted beside it, bounded by and checked
		// against its signed plaintext, before it is applied.
		if err := u.contentKey(u.cand); err != nil {
			return fail(err)
		}
		applied = patchPart + ".plain"
		if err := sealed.File(ctx, patchPart, applied, u.cand.key, p.patchPlain); err != nil {
			if ctx.Err() == nil {
				os.Remove(patchPart)
			}
			return fail(err)
		}
		defer os.Remove(applied)
	}
	if err := installed.ApplyPatch(ctx, installed.Base{File: p.file, Version: p.base, Path: p.path, Target: p.baseT, Work: p.work}, tf, applied, dest, u.c.opts.DeltaMaxDuration); err != nil {
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

// tryLocal copies a payload file from an installed file (any version of
// any model) with its signed SHA-256 and length, checked like a download
// (installed.Local), and reports whether the file is ready. A copy that
// does not verify is reported and the next source, then the network, is
// tried. A file complete in staging is left to the download step.
func (u *run) tryLocal(ctx context.Context, local *installed.Local, name string, tf *metadata.TargetFiles, dest string, ff *FileFetch) (bool, error) {
	if fi, err := u.p.FS.Lstat(dest); name == targets.ManifestName || err == nil && fi.Size() == tf.Length {
		return false, nil
	}
	for _, src := range local.Find(tf, u.req.ModelID) {
		ff.SourceModel, ff.SourceVersion = src.ModelID, src.Version
		e := Event{ModelID: u.req.ModelID, FromVersion: src.Version, ToVersion: u.res.ToVersion, Reason: "from " + src.ModelID + " " + src.Version}
		if _, err := local.Copy(ctx, src, tf, dest); err != nil {
			if codes.IsStop(CodeOf(err)) {
				return false, err
			}
			ff.Method, ff.Code, ff.Message = MethodLocalFallback, CodeOf(err), ReasonOf(err)
			e.Event, e.Code = EventLocalCopyFailed, ff.Code
			u.c.event(e)
			continue
		}
		ff.Method, ff.Code, ff.Message = MethodLocal, "", ""
		e.Event = EventLocalCopy
		u.c.event(e)
		return true, nil
	}
	return false, nil
}
