package client

import (
	"context"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/backoff"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/client/internal/listing"
	"github.com/edgetuf/edgetuf/client/internal/report"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"github.com/edgetuf/edgetuf/client/internal/verifiedread"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// UpdateRequest says what to update and how to judge the result.
type UpdateRequest struct {
	ModelID string
	Device  Device
	// HealthCheck is a shell command line run after activation as
	// /bin/sh -c 'HealthCheck "$@"' health-check DIR, so the new version's
	// directory DIR is its last argument; MCLIENT_MODEL_ID,
	// MCLIENT_MODEL_VERSION and MCLIENT_MODEL_DIR are set too. Exit 0
	// means healthy.
	HealthCheck string
	// HealthTimeout bounds the health check (default 60s).
	HealthTimeout time.Duration
	// Keep is how many versions stay installed, the active one included
	// (default 2: the active and the previous one).
	Keep int
	// NoDelta downloads every file whole, even when a signed patch from an
	// installed version is published.
	NoDelta bool
	// State is the device's current state (battery, network, free space,
	// user settings), checked against each version's signed policy before
	// anything is downloaded; nil: not given (docs/rollout.md, section 3).
	State *DeviceState
	// Force runs even before the backoff's next attempt time.
	Force bool
	// VerifyActive (always) and RehashEvery (when the last good full
	// re-hash is older) re-hash an up-to-date active version in full.
	VerifyActive bool
	RehashEvery  time.Duration
}

// Outcomes of an update.
const (
	OutcomeUpdated    = "updated"
	OutcomeUpToDate   = "up_to_date"
	OutcomeRepaired   = "repaired"
	OutcomeRolledBack = "rolled_back"
	OutcomeFailed     = "failed"
	// OutcomeDeferred: the update did not run now (Code: a DEFERRED_* code
	// or BACKOFF) and downloaded nothing; a later run tries again. Not a
	// failure, though Update returns an *Error with that code.
	OutcomeDeferred = "deferred"
)

// Result reports an update, a rollback or a failure; Skipped is a
// published version an update passed over (client/internal/report).
type (
	Result  = report.Result
	Skipped = report.Skipped
)

// Update runs one full update cycle for a model (see the package
// documentation). Being up to date is success with nothing downloaded;
// newer versions this device cannot take are listed in Result.Skipped.
// The Result is never nil: on failure it still says what is active, and
// the error is an *Error with its Code.
func (c *Client) Update(ctx context.Context, req UpdateRequest) (*Result, error) {
	if c.opts.Timeout > 0 {
		var cancel func()
		ctx, cancel = transport.WithTimeoutCause(ctx, c.opts.after, c.opts.Timeout, &transport.TimeoutCause{Msg: fmt.Sprintf("the update did not finish within %v (the run's time limit)", c.opts.Timeout)})
		defer cancel()
	}
	var res *Result
	err := c.checkRequest(&req)
	if err == nil {
		err = c.locked(func() error {
			var err error
			res, err = c.update(ctx, req)
			return err
		})
	}
	if res == nil {
		res = &Result{Time: c.now().UTC().Format(targets.TimeFormat), ModelID: req.ModelID, Outcome: OutcomeFailed}
		if err != nil {
			res.Code, res.Message = CodeOf(err), ReasonOf(err)
		}
	}
	return res, err
}

func (c *Client) checkRequest(req *UpdateRequest) error {
	if err := targets.CheckModelID(req.ModelID); err != nil {
		return codes.Errorf(TargetNotFound, err, "model id")
	}
	if req.Keep == 0 {
		req.Keep = 2
	}
	if req.Keep < 1 {
		return codes.Errorf(StateInvalid, nil, "keep must be at least 1")
	}
	if req.HealthTimeout == 0 {
		req.HealthTimeout = time.Minute
	}
	return nil
}

// run is the state of one update in progress.
type run struct {
	c   *Client
	req UpdateRequest
	ctx context.Context // the run's: its end turns any failure into stopped's error
	p   devstate.ModelPaths
	ptr *devstate.Pointer
	ms  *modelState
	res *Result
	// trialErr is the health-check failure of a version a crash left on
	// trial; it is the run's error unless a newer version is installed.
	trialErr error
	// sched is the model's backoff schedule; schedChanged says it must be
	// written at the end of the run.
	sched        *Schedule
	schedChanged bool
	// cands are the published versions, newest first (set by choose).
	cands *listing.List[candidate]
	// cand is the version being installed (set by install).
	cand *candidate
}

func (u *run) finish(err error) (*Result, error) {
	if stop := transport.Stopped(u.ctx, "").Code; CodeOf(err) == Network && u.ctx.Err() != nil && codes.IsStop(stop) {
		err = codes.Errorf(stop, err, "") // a transfer cut short by the caller
	}
	r := u.res
	r.Time = u.c.now().UTC().Format(targets.TimeFormat)
	if ptr, perr := devstate.ReadPointer(u.p, u.req.ModelID); perr == nil && ptr != nil {
		r.Version, r.Path = ptr.Version, u.p.Version(ptr.Version)
	} else {
		r.Version, r.Path = "", ""
	}
	if err == nil && u.trialErr != nil && r.Outcome != OutcomeUpdated {
		r.Outcome, err = OutcomeRolledBack, u.trialErr
	}
	if err != nil && IsDeferral(CodeOf(err)) {
		r.Outcome, r.Code, r.Message = OutcomeDeferred, CodeOf(err), ReasonOf(err)
		u.c.event(Event{Event: EventDeferred, ModelID: r.ModelID, FromVersion: r.FromVersion, ToVersion: r.ToVersion, Code: r.Code,
			Reason: r.Message, NotBefore: r.NotBefore})
	} else if err != nil {
		if r.Outcome == "" || r.Outcome == OutcomeUpdated || r.Outcome == OutcomeUpToDate || r.Outcome == OutcomeRepaired || r.Outcome == OutcomeDeferred {
			r.Outcome = OutcomeFailed
		}
		r.Code, r.Message = CodeOf(err), ReasonOf(err)
		u.c.event(Event{Event: EventFailed, ModelID: r.ModelID, FromVersion: r.FromVersion, ToVersion: r.ToVersion, Code: r.Code})
	}
	if CodeOf(err) != Backoff {
		u.recordOutcome(err)
	}
	// Asking for a model the repository does not publish (a typo) leaves
	// no state behind.
	if CodeOf(err) == TargetNotFound && !u.dirExists(u.p.Dir) {
		return r, err
	}
	u.ms.LastResult = r
	if werr := u.c.saveModelState(u.p, u.req.ModelID, u.ptr, u.ms); werr != nil && err == nil {
		err = codes.Errorf(StateInvalid, werr, "recording the result")
	}
	u.c.tele.End(r, u.rollout) // after activation: reports, then the upload in the background
	return r, err
}

// rollout is version v's signed rollout, if choose listed v (telemetry's cohort).
func (u *run) rollout(v string) *targets.Rollout {
	if u.cands == nil || u.cands.Find(v) == nil {
		return nil
	}
	return u.cands.Find(v).custom.Rollout
}

func (u *run) dirExists(dir string) bool {
	fi, err := u.p.FS.Lstat(dir)
	return err == nil && fi.IsDir()
}

func (c *Client) update(ctx context.Context, req UpdateRequest) (*Result, error) {
	u := &run{c: c, ctx: ctx, req: req, p: c.paths(req.ModelID), res: &Result{ModelID: req.ModelID}}
	c.tele.Begin()
	if err := devstate.CheckState(c.dir); err != nil {
		return nil, err
	}
	if err := devstate.Recover(c.dir, u.p); err != nil {
		return nil, err
	}
	if err := devstate.CleanStaging(c.dir, u.p); err != nil {
		return nil, err
	}
	var err error
	if u.ms, err = c.loadModelState(u.p, req.ModelID); err != nil {
		return nil, err
	}
	if u.ptr, err = c.loadPointer(u.p, req.ModelID, u.ms); err != nil {
		return nil, err
	}
	if u.ptr != nil {
		u.res.FromVersion = u.ptr.Version
	}
	if u.sched, err = c.loadSchedule(u.p, req.ModelID); err != nil {
		return nil, err
	}
	c.retryAfter.Reset()
	// A version left on trial by a crash is judged before anything else.
	if u.ptr != nil && u.ptr.Trial {
		if err := u.resolveTrial(ctx); err != nil {
			return u.finish(err)
		}
	}
	// Before the backoff's next attempt time, nothing goes on the network.
	if err := u.checkBackoff(); err != nil {
		return u.finish(err)
	}

	s, err := c.openSession(ctx, false)
	if err != nil {
		return u.finish(err)
	}
	if err := s.Refresh(); err != nil {
		return u.finish(err)
	}
	// go-tuf wrote metadata/ with plain os calls: check what it left.
	if err := devstate.CheckMetadata(c.dir); err != nil {
		return u.finish(err)
	}
	c.tele.LoadSampling(s)
	if err := u.settleMarks(s); err != nil {
		return u.finish(err)
	}
	c.event(Event{Event: EventChecked, ModelID: req.ModelID, FromVersion: u.res.FromVersion})

	best, active, err := u.choose(s)
	// The metadata is complete and consistent now, unless a delegated role
	// could not be loaded: offline checks use a copy.
	if c := CodeOf(err); err == nil || c == TargetNotFound || c == Incompatible || c == PolicyRejected || c == KeyUnavailable || c == DecryptFailed {
		u.loadOfflineBins(s)
		tufsession.SaveVerified(s.MetaDir())
	}
	if err != nil {
		return u.finish(err)
	}
	if best == nil && active != nil && active.custom.Revoked != nil {
		return u.finish(u.leaveRevoked(ctx, s, active))
	}
	if best == nil {
		if active != nil {
			if err := u.repair(ctx, s, active); err != nil {
				return u.finish(err)
			}
		}
		if u.res.Outcome == "" {
			u.res.Outcome = OutcomeUpToDate
			c.event(Event{Event: EventUpToDate, ModelID: req.ModelID, FromVersion: u.res.FromVersion})
		}
		devstate.GC(u.p, u.ptr, req.Keep, "", u.ms.IsBad)
		return u.finish(nil)
	}
	u.res.ToVersion = best.version.String()
	if err := u.mayDownload(s, best); err != nil {
		return u.finish(err)
	}
	if err := u.install(ctx, s, best); err != nil {
		return u.finish(err)
	}
	if err := u.activate(ctx, s, best); err != nil {
		return u.finish(err)
	}
	u.res.Outcome = OutcomeUpdated
	return u.finish(nil)
}

// repair re-installs the active version when a check finds it damaged, so
// that an up-to-date device never stays on a broken copy: a full re-hash
// when VerifyActive or RehashEvery ask for one, else every signed file
// present with its signed size and nothing else (verifiedread.CheckActive).
func (u *run) repair(ctx context.Context, s *tufsession.Session, active *candidate) error {
	fs, err := u.c.files(s, active)
	if err != nil {
		return err
	}
	v := active.version.String()
	cause := verifiedread.CheckActive(ctx, u.p, v, fs, verifiedread.Policy{Always: u.req.VerifyActive, Every: u.req.RehashEvery, Now: u.c.now()})
	if cause == nil {
		return u.renewEnvelope(active)
	}
	if codes.IsStop(CodeOf(cause)) {
		return cause
	}
	u.c.event(Event{Event: EventFailed, ModelID: u.req.ModelID, FromVersion: v, ToVersion: v, Code: CodeOf(cause)})
	u.res.ToVersion = v
	if err := u.install(ctx, s, active); err != nil {
		return err
	}
	u.res.Outcome = OutcomeRepaired
	u.c.event(Event{Event: EventRepaired, ModelID: u.req.ModelID, FromVersion: v, ToVersion: v, Bytes: u.res.BytesDownloaded})
	return nil
}

// choose picks the newest eligible version newer than the active one, or
// nil when the device is up to date; active is the active version's
// candidate when it is still published. Newer versions passed over are
// listed in the result. Without an active version, the newest version's
// reason is the error when none is eligible. Candidates come in a total
// order (newerFirst); a version of the same precedence as the active one
// (it differs only in build metadata) is not newer: the device stays, so
// that two such versions published together never make it switch back
// and forth on every poll.
func (u *run) choose(s *tufsession.Session) (best, active *candidate, err error) {
	var also []string
	if u.ptr != nil {
		also = append(also, u.ptr.Version)
	}
	cands, err := u.c.candidates(s, u.req.ModelID, also...)
	if err != nil {
		return nil, nil, err
	}
	u.cands = cands
	defer func() {
		for _, sk := range cands.Skipped() {
			u.res.Skipped = append(u.res.Skipped, Skipped{Version: sk.Version, Code: sk.Err.Code, Reason: sk.Err.Reason()})
		}
		if cands.Err() != nil {
			best, active, err = nil, nil, cands.Err()
		}
	}()
	if cands.At(0) == nil {
		return nil, nil, codes.Errorf(TargetNotFound, nil, "model %s is not published", u.req.ModelID)
	}
	if err := u.discardRevoked(); err != nil {
		return nil, nil, err
	}
	floor, haveFloor, err := u.c.floor(u.req.ModelID, u.ptr)
	if err != nil {
		return nil, nil, err
	}
	if u.ptr != nil && !u.ptr.Trial {
		// Repair a store that is lower than the confirmed active version
		// (rewritten by hand, or lost).
		if err := u.c.store.RaiseFloor(u.req.ModelID, floor); err != nil {
			return nil, nil, err
		}
	}
	var firstErr error
	skippedBad := false
	var activeV targets.Version
	haveActive := false
	if u.ptr != nil {
		activeV, err = targets.ParseVersion(u.ptr.Version)
		haveActive = err == nil
	}
	for i, cand := range cands.All() {
		v := cand.version.String()
		if u.ptr != nil && v == u.ptr.Version {
			return nil, cand, nil // the newest eligible is the active one
		}
		if haveActive && cand.version.Compare(activeV) == 0 {
			// Equal precedence: not newer. Stay, with the active version's
			// own candidate when it is still published.
			for j := i + 1; cands.At(j) != nil && cands.At(j).version.Compare(activeV) == 0; j++ {
				if cands.At(j).version.String() == u.ptr.Version {
					return nil, cands.At(j), nil
				}
			}
			return nil, nil, nil
		}
		var reason *Error
		switch {
		case cand.custom.Revoked != nil:
			reason = codes.Errorf(Revoked, nil, "%s %s is revoked: %s", u.req.ModelID, v, cand.custom.Revoked.Reason)
			u.c.event(Event{Event: EventRevoked, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: v, Code: Revoked, Reason: cand.custom.Revoked.Reason})
		case haveFloor && cand.version.Compare(floor) < 0:
			if u.ptr != nil {
				return nil, nil, nil // older than what runs: never a candidate
			}
			reason = codes.Errorf(PolicyRejected, nil, "%s %s is below the anti-rollback floor %s", u.req.ModelID, v, floor)
		case u.ms.IsBad(v):
			// Marked bad after it failed here: skipped without being an
			// error, so a device that rolled back is simply up to date.
			skippedBad = true
			reason = codes.Errorf(PolicyRejected, nil, "%s %s is marked bad on this device", u.req.ModelID, v)
		default:
			if err := u.req.Device.Compatible(&cand.custom.Compat); err != nil {
				reason = codes.Errorf(Incompatible, nil, "%s %s: %v", u.req.ModelID, v, err)
			} else if ok, why := u.c.admits(cand.custom.Rollout); !ok {
				reason = codes.Errorf(CohortExcluded, nil, "%s %s: %s", u.req.ModelID, v, why)
				u.c.event(Event{Event: EventCohortExcluded, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: v, Code: CohortExcluded})
			}
		}
		if reason == nil && cand.custom.Encrypted != nil && !u.dirExists(u.p.Version(v)) {
			if err := u.contentKey(cand); err != nil {
				var skip bool
				if reason, skip = u.keySkip(v, err); !skip {
					return nil, nil, err
				}
			}
		}
		if reason == nil {
			return cand, nil, nil
		}
		u.res.Skipped = append(u.res.Skipped, Skipped{Version: v, Code: reason.Code, Reason: reason.Reason()})
		// A version skipped for the cohort or a revocation is passed
		// over like one marked bad: never an error of the run.
		if firstErr == nil && !u.ms.IsBad(v) && reason.Code != CohortExcluded && reason.Code != Revoked {
			firstErr = reason
		}
	}
	switch {
	case u.ptr != nil:
		return nil, nil, nil // nothing newer than what runs is eligible
	case firstErr != nil:
		return nil, nil, firstErr
	case skippedBad:
		return nil, nil, codes.Errorf(PolicyRejected, nil, "every published version of %s is marked bad on this device", u.req.ModelID)
	}
	return nil, nil, codes.Errorf(TargetNotFound, nil, "no version of %s is published", u.req.ModelID)
}

// files resolves, from signed metadata, what every file of a version
// must be once installed, in the form this device installs it
// (installed.SignedFiles).
func (c *Client) files(s *tufsession.Session, cand *candidate) (map[string]*metadata.TargetFiles, error) {
	return installed.SignedFiles(s.TargetInfo, cand.manifest, cand.custom, c.opts.EncryptedAtRest)
}

// install makes models/<model>/<version>/ hold the verified version,
// downloading only what is missing. An installed copy left by an earlier
// run is used only after every file re-verifies.
func (u *run) install(ctx context.Context, s *tufsession.Session, cand *candidate) error {
	v := cand.version.String()
	u.cand = cand
	fs, err := u.c.files(s, cand)
	if err != nil {
		return err
	}
	tufsession.SaveVerified(s.MetaDir()) // with the bins that resolve fs, for offline checks
	dst := u.p.Version(v)
	if _, err := u.p.FS.Lstat(dst); err == nil {
		verr := installed.VerifyDir(ctx, u.p.FS, dst, fs)
		if verr == nil {
			u.p.FS.RemoveAll(u.p.StagingFor(v))
			return nil
		}
		if codes.IsStop(CodeOf(verr)) {
			return verr
		}
		// Damaged (or not a directory): replaced below, once the new copy
		// is complete.
	}
	wire, plain, err := installed.WireFiles(s.TargetInfo, cand.manifest, cand.custom)
	if err != nil {
		return err
	}
	plainAtRest := cand.custom.Encrypted != nil && !u.c.opts.EncryptedAtRest
	plans := u.planDeltas(s, cand, fs)
	if err := u.checkSpace(fs, wire, plainAtRest, v, plans); err != nil {
		return err
	}
	stage := u.p.StagingFor(v)
	if err := u.p.FS.MkdirAll(stage, 0o700); err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staging")
	}
	// The manifest first: it is small, and a bad one stops everything
	// before a large payload is fetched.
	names := append([]string{targets.ManifestName}, cand.custom.Files...)
	local := installed.ScanLocal(u.c.dir)
	dl := u.c.dl.SyncingLater() // devstate.MoveVerified syncs them all at once
	for _, name := range names {
		tf := fs[name]
		dest := filepath.Join(stage, name+devstate.PartSuffix)
		u.res.Files = append(u.res.Files, FileFetch{File: name, Method: MethodFull, Length: tf.Length})
		ff := &u.res.Files[len(u.res.Files)-1]
		if done, err := u.tryLocal(ctx, local, name, tf, dest, ff); err != nil || done {
			if err != nil {
				return err
			}
			continue
		}
		if p := plans[name]; p != nil {
			done, err := u.tryDelta(ctx, s, p, tf, dest, ff)
			if err != nil {
				return err
			}
			if done {
				continue
			}
		}
		if plainAtRest && name != targets.ManifestName {
			if err := u.fetchDecrypted(ctx, s, cand, name, wire[name], tf, plain[name], dest, ff); err != nil {
				return u.decryptFailed(v, err)
			}
			continue
		}
		if err := u.fetchWith(ctx, dl, s.URLOf(tf), tf, dest, name, ff); err != nil {
			return err
		}
		if name == targets.ManifestName {
			if err := installed.CheckManifest(u.p.FS, filepath.Join(stage, name+devstate.PartSuffix), cand.custom, installed.PlainForm(wire, plain)); err != nil {
				u.p.FS.Remove(filepath.Join(stage, name+devstate.PartSuffix))
				u.verifyFailed(v)
				return err
			}
		}
	}
	if err := u.checkEncryptedAtRest(ctx, cand, plain, stage); err != nil {
		return u.decryptFailed(v, err)
	}
	u.c.event(Event{Event: EventDownloaded, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: v, Bytes: u.res.BytesDownloaded})
	u.c.event(Event{Event: EventVerified, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: v})

	// Move the verified files into a hidden directory, then rename that
	// into place: a version directory is either complete or absent.
	tmp, err := devstate.MoveVerified(u.p, stage, v, names)
	if err != nil {
		return err
	}
	if err := verifiedread.Protect(u.p.FS, tmp, names, u.c.opts.Logger); err != nil {
		return err
	}
	if _, err := u.p.FS.Lstat(dst); err == nil {
		// Move the damaged copy (a link or special file: the entry
		// itself) aside under a name recover deletes.
		hidden := filepath.Join(u.p.Dir, devstate.InstallPrefix+"damaged-"+v)
		u.p.FS.RemoveAll(hidden)
		if err := u.p.FS.Rename(dst, hidden); err != nil {
			return codes.Errorf(StateInvalid, err, "replacing a damaged install of %s", v)
		}
		defer u.p.FS.RemoveAll(hidden)
	}
	if err := u.p.FS.Rename(tmp, dst); err != nil {
		return codes.Errorf(StateInvalid, err, "installing %s", v)
	}
	crashpoint.Hit("client.install.renamed")
	devstate.SyncDir(u.p.Dir)
	u.p.FS.RemoveAll(stage)
	u.verified(v)
	return nil
}

// checkSpace refuses to start when the free space cannot hold what is
// still to be downloaded plus a margin. A file rebuilt with a patch needs
// room for the patch and the whole file, which also covers falling back
// to a full download; one decrypted in staging (plainAtRest) room for
// its ciphertext and its plaintext.
func (u *run) checkSpace(fs, wire map[string]*metadata.TargetFiles, plainAtRest bool, v string, plans map[string]*deltaPlan) error {
	var staged []devstate.Staged
	for name, tf := range fs {
		staged = append(staged, devstate.Staged{Part: filepath.Join(u.p.StagingFor(v), name+devstate.PartSuffix), Length: tf.Length})
		if plainAtRest && name != targets.ManifestName {
			staged = append(staged, devstate.Staged{Part: filepath.Join(u.p.StagingFor(v), wireDir, name+devstate.PartSuffix), Length: wire[name].Length})
		}
		if p := plans[name]; p != nil && p.err == nil {
			staged = append(staged, devstate.Staged{Part: p.part, Length: p.patch.Length})
		}
	}
	return devstate.CheckSpace(u.p, staged, u.c.opts.FreeSpace, u.req.ModelID+" "+v)
}

// fetch downloads the target tf into dest (transport.Downloader.Fetch),
// counting its bytes; a file that does not verify counts against its
// version (verifyFailed).
func (u *run) fetch(ctx context.Context, url string, tf *metadata.TargetFiles, dest, label string, ff *FileFetch) error {
	return u.fetchWith(ctx, u.c.dl, url, tf, dest, label, ff)
}

func (u *run) fetchWith(ctx context.Context, dl *transport.Downloader, url string, tf *metadata.TargetFiles, dest, label string, ff *FileFetch) error {
	r, err := dl.Fetch(ctx, url, tf, dest, label)
	u.res.BytesDownloaded += r.Transferred
	u.res.BytesResumed += r.ResumedFrom
	ff.Bytes += r.Transferred
	if err != nil && backoff.IsVerifyFailure(CodeOf(err)) {
		u.verifyFailed(u.res.ToVersion)
	}
	return err
}
