package client

import (
	"context"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/delta"
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
	if err := installed.ApplyPatch(ctx, installed.Base{File: p.file, Version: p.base, Path: p.path, Target: p.baseT, Work: p.work}, tf, patchPart, dest, u.c.opts.DeltaMaxDuration); err != nil {
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
