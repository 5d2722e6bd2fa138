package client

import (
	"context"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/goldencheck"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"github.com/edgetuf/edgetuf/client/internal/verifiedread"
	"os"

	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// activate switches to the installed candidate on trial, runs the health
// check, and either confirms the version (raising the anti-rollback floor
// and cleaning up old versions) or switches back and marks it bad.
func (u *run) activate(ctx context.Context, s *tufsession.Session, cand *candidate) error {
	v := cand.version.String()
	next := devstate.Pointer{ModelID: u.req.ModelID, Version: v, Trial: true}
	if u.ptr != nil {
		next.Previous = u.ptr.Version
	}
	if err := devstate.WritePointer(u.p, next, u.c.now()); err != nil {
		return codes.Errorf(StateInvalid, err, "activating %s", v)
	}
	u.c.event(Event{Event: EventActivated, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: v})
	fs, err := u.c.files(s, cand)
	if err != nil {
		return err
	}
	if err := u.healthCheck(ctx, v, fs, false); err != nil {
		if codes.IsStop(CodeOf(err)) {
			// Stopped, not failed: the version stays active on trial,
			// and the next update checks it again (resolveTrial).
			u.ptr = &next
			return err
		}
		return u.rollBack(v, err)
	}
	return u.confirm(next)
}

// confirm ends a trial: the version is healthy.
func (u *run) confirm(ptr devstate.Pointer) error {
	v, _ := targets.ParseVersion(ptr.Version)
	ptr.Trial = false
	if err := devstate.WritePointer(u.p, ptr, u.c.now()); err != nil {
		return codes.Errorf(StateInvalid, err, "confirming %s", ptr.Version)
	}
	if err := u.c.store.Raise(u.req.ModelID, v); err != nil {
		return err // coded and described by the gate (epochgate.Err)
	}
	u.ptr = &ptr
	u.c.event(Event{Event: EventConfirmed, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: ptr.Version})
	devstate.GC(u.p, &ptr, u.req.Keep, ptr.Version, u.ms.IsBad)
	return nil
}

// rollBack returns to the version that was active before bad, marks bad
// so it is never retried, and reports cause as HEALTHCHECK_FAILED.
func (u *run) rollBack(bad string, cause error) error {
	u.ms.MarkBad(bad)
	if err := u.c.saveModelState(u.p, u.req.ModelID, u.ptr, u.ms); err != nil {
		return codes.Errorf(StateInvalid, err, "marking %s bad", bad)
	}
	prev := ""
	if u.ptr != nil && u.ptr.Version != bad {
		prev = u.ptr.Version
		if err := devstate.WritePointer(u.p, *u.ptr, u.c.now()); err != nil {
			return codes.Errorf(StateInvalid, err, "switching back to %s", prev)
		}
	} else if u.ptr != nil && u.ptr.Previous != "" {
		prev = u.ptr.Previous
		if err := devstate.WritePointer(u.p, devstate.Pointer{ModelID: u.req.ModelID, Version: prev}, u.c.now()); err != nil {
			return codes.Errorf(StateInvalid, err, "switching back to %s", prev)
		}
	} else if err := u.p.FS.Remove(u.p.Pointer()); err != nil && !os.IsNotExist(err) {
		return codes.Errorf(StateInvalid, err, "deactivating %s", bad)
	}
	u.res.Outcome = OutcomeRolledBack
	restored, _ := devstate.ReadPointer(u.p, u.req.ModelID)
	devstate.GC(u.p, restored, u.req.Keep, "", u.ms.IsBad)
	u.c.event(Event{Event: EventRolledBack, ModelID: u.req.ModelID, FromVersion: bad, ToVersion: prev, Code: RollbackTriggered})
	return codes.Errorf(HealthcheckFailed, cause, "%s %s failed its health check; back on %s", u.req.ModelID, bad, orNone(prev))
}

func orNone(v string) string {
	if v == "" {
		return "no version"
	}
	return v
}

// resolveTrial judges a version a killed process left on trial: it is
// confirmed if it passes the health check now, otherwise rolled back.
func (u *run) resolveTrial(ctx context.Context) error {
	trial := *u.ptr
	var prev *devstate.Pointer
	if trial.Previous != "" {
		prev = &devstate.Pointer{ModelID: trial.ModelID, Version: trial.Previous}
	}
	fs, err := u.c.signedFiles(u.req.ModelID, trial.Version, false, false)
	if err == nil {
		err = u.healthCheck(ctx, trial.Version, fs, true)
	}
	if codes.IsStop(CodeOf(err)) {
		return err // stopped again: still on trial, never blamed
	}
	if err != nil {
		u.ptr = prev
		rerr := u.rollBack(trial.Version, err)
		if CodeOf(rerr) != HealthcheckFailed {
			return rerr
		}
		// Go on from the previous version: a newer good version may be
		// published. Unless one is installed, the run reports rerr.
		u.trialErr = rerr
		u.res.Outcome = ""
		u.res.FromVersion = trial.Previous
		return nil
	}
	return u.confirm(trial)
}

// healthCheck runs the built-in checks and the configured command, once
// per test vector the version's manifest declares (goldencheck). The
// files are checked against fs (their installed form): re-hashed with
// rehash, else (they were verified while installed in this run) only
// their presence and sizes.
func (u *run) healthCheck(ctx context.Context, v string, fs map[string]*metadata.TargetFiles, rehash bool) error {
	crashpoint.Hit("client.healthcheck")
	dir := u.p.Version(v)
	if rehash {
		if err := installed.VerifyDir(ctx, u.p.FS, dir, fs); err != nil {
			return err
		}
	} else if err := installed.CheckSizesSigned(u.p.FS, dir, fs); err != nil {
		return err
	}
	chk := goldencheck.Check{FS: u.p.FS, Dir: dir, Command: u.req.HealthCheck, Timeout: u.req.HealthTimeout,
		Log: u.c.opts.Logger.With("model_id", u.req.ModelID, "version", v),
		Env: []string{"MCLIENT_MODEL_ID=" + u.req.ModelID, "MCLIENT_MODEL_VERSION=" + v, "MCLIENT_MODEL_DIR=" + dir}}
	if u.c.opts.EncryptedAtRest { // golden vectors are read through the decrypting reader
		m := verifiedread.New(u.p.FS, u.req.ModelID, v, dir, fs)
		if err := m.Unseal(u.c.dir, u.c.keys, u.c.now()); err != nil {
			return err
		}
		if m.EncryptedAtRest {
			chk.Open = m.Open
		}
	}
	return chk.Run(ctx)
}

// signedFiles resolves a version's targets from the signed metadata the
// device trusts (an offline session: no network, no freshness needed):
// with wire, the targets as signed (an encrypted version's ciphertexts),
// else the form its installed files must have (installed.SignedFiles).
func (c *Client) signedFiles(modelID, v string, explicit, wire bool) (map[string]*metadata.TargetFiles, error) {
	s, err := c.openSession(context.Background(), true)
	if err == nil {
		err = s.Refresh()
	}
	if err == nil && explicit { // asked for by an operator: the hardware epoch must admit it
		if _, err = c.candidates(s, modelID); err == nil {
			err = c.store.Allows(modelID, v)
		}
	}
	if err != nil {
		return nil, err
	}
	cand, err := manifestOf(s, modelID, v)
	if err != nil {
		return nil, err
	}
	if wire {
		w, _, err := installed.WireFiles(s.TargetInfo, cand.manifest, cand.custom)
		return w, err
	}
	return c.files(s, cand)
}

// manifestOf resolves version v's manifest target through the delegation
// tree of session s.
func manifestOf(s *tufsession.Session, modelID, v string) (*candidate, error) {
	mp := targets.ManifestPath(modelID, v)
	tf, err := s.TargetInfo(mp)
	if err != nil {
		return nil, err
	}
	custom, err := targets.ParseCustom(mp, tf.Custom)
	if err != nil || custom.Kind != targets.KindManifest {
		return nil, codes.Errorf(ManifestInvalid, err, "%s", mp)
	}
	ver, _ := targets.ParseVersion(v)
	return &candidate{version: ver, manifest: tf, custom: custom}, nil
}

// loadOfflineBins resolves, in the refreshed session s, every file of the
// versions offline checks verify against the copy SaveVerified keeps, for
// every model on the device (the copy is shared): the active version
// (verify, OpenActive) and the previous one (rollback). With a version
// index a refresh loads only the bins it uses, and a bin kept from an
// earlier refresh is refused offline once the snapshot records a newer
// version of it: resolving the files loads the current one (downloaded
// only if it changed). Best effort: a version that no longer resolves is
// one the offline check refuses anyway.
func (u *run) loadOfflineBins(s *tufsession.Session) {
	ids, _ := u.c.Models()
	for _, id := range ids {
		ptr := u.ptr
		if id != u.req.ModelID {
			ptr, _ = devstate.ReadPointer(u.c.paths(id), id)
		}
		if ptr == nil {
			continue
		}
		for _, v := range []string{ptr.Version, ptr.Previous} {
			if v == "" {
				continue
			}
			if cand, err := manifestOf(s, id, v); err == nil {
				installed.WireFiles(s.TargetInfo, cand.manifest, cand.custom) // the lookups load the bins
			}
		}
	}
}
