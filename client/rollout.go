package client

import (
	"context"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/eligibility"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"

	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/targets"
)

// The device side of the signed rollout controls (targets/rollout.go):
// backoff and eligibility before anything is downloaded, and the kill
// switch. docs/rollout.md, section 3, describes the behaviour.

// checkBackoff refuses a run before the schedule's next attempt time,
// unless the request forces it.
func (u *run) checkBackoff() error {
	if u.req.Force || u.sched.NotBefore == "" {
		return nil
	}
	nb, err := devstate.ParseTime(u.sched.NotBefore)
	if err != nil || !u.c.now().Before(nb) {
		return nil
	}
	u.res.NotBefore = u.sched.NotBefore
	return codes.Errorf(Backoff, nil, "%d failed attempt(s), the last %s; the next attempt is due at %s (--force runs now)",
		u.sched.Attempts, u.sched.LastCode, u.sched.NotBefore)
}

// mayDownload decides, from signed metadata and the device's state only,
// whether cand may be downloaded now: a version that failed verification
// too often waits, and the signed policy and the user's settings must
// allow it. Its error is a deferral; nothing has been downloaded.
func (u *run) mayDownload(s *tufsession.Session, cand *candidate) error {
	v := cand.version.String()
	u.c.opts.Logger.Debug("chose", "model_id", u.req.ModelID, "version", v, "from", u.res.FromVersion)
	if u.dirExists(u.p.Version(v)) {
		return nil // installed already: nothing to download
	}
	if err := u.verifyDeferred(v); err != nil {
		return err
	}
	fs, err := u.c.files(s, cand)
	if err != nil {
		return err
	}
	var need int64
	for _, tf := range fs {
		need += tf.Length
	}
	if err := eligibility.Eligible(cand.custom.Policy, u.req.State, need, u.c.now()); err != nil {
		return codes.Errorf(err.Code, nil, "%s %s: %s", u.req.ModelID, v, err.Reason())
	}
	return nil
}

// discardRevoked removes every staged or installed copy of a revoked
// version that is not the active one: a revoked version is never
// activated, by an update or by a rollback to it.
func (u *run) discardRevoked() error {
	for _, v := range devstate.LocalVersions(u.p, newerFirst) {
		c := u.cands.Find(v)
		if c == nil || c.custom.Revoked == nil {
			continue
		}
		if u.ptr != nil && u.ptr.Version == v {
			continue // the active one is stepped down from (leaveRevoked)
		}
		discarded, err := devstate.DiscardVersion(u.p, v)
		if err != nil {
			return err
		}
		if discarded {
			u.c.event(Event{Event: EventRevoked, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: v, Code: Revoked,
				Reason: "discarded: " + c.custom.Revoked.Reason})
		}
	}
	return u.cands.Err()
}

// leaveRevoked steps the device down from its active version, which the
// freshly verified metadata revokes, to the newest installed version
// below it that is published, not revoked, not marked bad and re-verifies
// against the signed metadata; or, with none, to the newest published
// version below it that this device may take (compatible, admitted by
// its rollout, not revoked, not marked bad, at or above the application's
// minimum), downloaded like any update. The anti-rollback floor steps
// down with it, from exactly the revoked version to the chosen one
// (anti_rollback.Store.StepDown): the only way the floor ever goes down.
// The chosen version is activated on trial and health-checked like any
// activation.
func (u *run) leaveRevoked(ctx context.Context, s *tufsession.Session, active *candidate) error {
	from := active.version
	reason := active.custom.Revoked.Reason
	u.res.Skipped = append(u.res.Skipped, Skipped{Version: from.String(), Code: Revoked, Reason: u.req.ModelID + " " + from.String() + " is revoked: " + reason})
	u.c.event(Event{Event: EventRevoked, ModelID: u.req.ModelID, FromVersion: from.String(), ToVersion: from.String(), Code: Revoked, Reason: reason})
	var appMin *targets.Version
	if u.c.cfg.MinVersion != "" {
		if v, err := targets.ParseVersion(u.c.cfg.MinVersion); err == nil {
			appMin = &v
		}
	}
	usable := func(c *candidate) bool {
		return c.version.Compare(from) < 0 && c.custom.Revoked == nil && !u.ms.IsBad(c.version.String()) &&
			(appMin == nil || c.version.Compare(*appMin) >= 0)
	}
	var target *candidate
	found := false
	// The installed versions, each by the lookup of its own manifest: a
	// version index that no longer names one does not hide it.
	for _, v := range devstate.LocalVersions(u.p, newerFirst) {
		c := u.cands.Find(v)
		if c == nil || !usable(c) || !u.dirExists(u.p.Version(v)) {
			continue
		}
		fs, err := u.c.files(s, c)
		if err != nil {
			continue
		}
		if err := installed.VerifyDir(ctx, u.p.FS, u.p.Version(c.version.String()), fs); err != nil {
			if codes.IsStop(CodeOf(err)) {
				return err
			}
			continue
		}
		target, found = c, true
		break
	}
	if target == nil {
		for _, c := range u.cands.All() {
			if !usable(c) || u.req.Device.Compatible(&c.custom.Compat) != nil {
				continue
			}
			if ok, _ := u.c.admits(c.custom.Rollout); !ok {
				continue
			}
			target = c
			break
		}
	}
	if err := u.cands.Err(); err != nil {
		return err
	}
	if target == nil {
		return codes.Errorf(Revoked, nil, "%s %s is revoked (%s) and no installed or published version can replace it; it stays active", u.req.ModelID, from, reason)
	}
	to := target.version.String()
	u.res.ToVersion = to
	if !found {
		if err := u.mayDownload(s, target); err != nil {
			return err
		}
		if err := u.install(ctx, s, target); err != nil {
			return err
		}
	}
	// The floor first: a crash before the pointer moves leaves the
	// revoked version active and confirmed, and the next run raises the
	// floor back to it (choose) and steps down again.
	if err := u.c.store.StepDown(u.req.ModelID, from, target.version); err != nil {
		return err // coded and described by the gate (epochgate.Err)
	}
	crashpoint.Hit("client.revoked.stepdown")
	next := devstate.Pointer{ModelID: u.req.ModelID, Version: to, Trial: true}
	if err := devstate.WritePointer(u.p, next, u.c.now()); err != nil {
		return codes.Errorf(StateInvalid, err, "activating %s", to)
	}
	u.c.event(Event{Event: EventRevokedRollback, ModelID: u.req.ModelID, FromVersion: from.String(), ToVersion: to, Code: Revoked, Reason: reason})
	fs, err := u.c.files(s, target)
	if err != nil {
		return err
	}
	if err := u.healthCheck(ctx, to, fs, false); err != nil {
		if codes.IsStop(CodeOf(err)) {
			u.ptr = &next
			return err
		}
		// Never back to the revoked version: nothing is active then.
		u.ptr = nil
		return u.rollBack(to, err)
	}
	if err := u.confirm(next); err != nil {
		return err
	}
	u.res.Outcome = OutcomeRolledBack
	return u.discardRevoked()
}
