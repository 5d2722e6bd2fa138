package autohalt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Errors of HaltChange and StageHalt: the version is left as it is.
var (
	// ErrAlreadyHalted: the version's rollout is halted already (at 0%,
	// by anyone); its recorded reason is kept.
	ErrAlreadyHalted = errors.New("rollout already halted")
	// ErrNotStaged: the version is not in a staged rollout (a full
	// release): the watch halts staged rollouts only.
	ErrNotStaged = errors.New("version not in a staged rollout")
	// ErrNotTopLevel: a staged halt (StageHalt) of a version that the
	// top-level targets role does not sign (a delegated role or a hash bin
	// does): only top-level roles can be staged for signers.
	ErrNotTopLevel = errors.New("version not signed by top-level targets")
)

// Outcome is what a check did.
type Outcome string

// The outcomes of a check.
const (
	// NoHaltNeeded: the decision is not to halt (or not yet: too few reports).
	NoHaltNeeded Outcome = "no_halt_needed"
	// Halted: the rollout was halted and the change published.
	Halted Outcome = "halted"
	// StagedForSigners: the halt was staged for the targets key holders
	// (mrepo sign, merge-signatures, publish-staged publish it).
	StagedForSigners Outcome = "staged_for_signers"
	// AlreadyHalted: a halt was due but the rollout is halted already.
	AlreadyHalted Outcome = "already_halted"
	// NotStaged: a halt was due but the version is a full release.
	NotStaged Outcome = "not_staged"
	// Failed: reading the reports or halting failed; nothing changed, the
	// next check tries again.
	Failed Outcome = "error"
)

// Final reports whether the watch is over after this outcome: the version
// is halted (or staged to be) or cannot be.
func (o Outcome) Final() bool {
	return o == Halted || o == StagedForSigners || o == AlreadyHalted || o == NotStaged
}

// Halter halts a version's rollout with a reason: mrepo re-signs its
// metadata with the keys at hand, or stages the change for signers. It
// returns Halted or StagedForSigners and what it did (the signed or
// staged versions), or, leaving the version as it is, AlreadyHalted or
// NotStaged (errors ErrAlreadyHalted and ErrNotStaged may be returned for
// those instead; the watcher maps them), or an error.
type Halter interface {
	Halt(ctx context.Context, modelID, version, reason string) (Outcome, string, error)
}

// HaltChange is the rollout change a Halter applies (rollout.Halt), under
// the repository's writer lock so that it sees the rollout as it is then:
// a version without a staged rollout is refused (ErrNotStaged), one at
// 0% already too (ErrAlreadyHalted). It only ever sets the rollout to 0%:
// the salt, device classes and start are kept, so mrepo rollout set
// resumes with the same cohorts.
func HaltChange(reason string) (rollout.Change, error) {
	halt, err := rollout.Halt(reason)
	if err != nil {
		return nil, err
	}
	return func(v *rollout.Version) error {
		switch ro := v.Custom.Rollout; {
		case ro == nil:
			return fmt.Errorf("%w: %s %s is a full release (mrepo rollout halt halts it by hand)", ErrNotStaged, v.ModelID, v.Version)
		case ro.BasisPoints == 0:
			why := ""
			if ro.HaltReason != "" {
				why = ": " + ro.HaltReason
			}
			return fmt.Errorf("%w: %s %s is at 0%%%s", ErrAlreadyHalted, v.ModelID, v.Version, why)
		}
		return halt(v)
	}, nil
}

// StageHalt applies change (HaltChange) to modelID@version in ts, the
// targets of the top-level targets role about to be staged for signers
// (repo.Repository.ChangeTargets with stage). A version that top-level
// targets does not sign is ErrNotTopLevel.
func StageHalt(ts map[string]*metadata.TargetFiles, modelID, version string, change rollout.Change, now time.Time) error {
	mpath := targets.ManifestPath(modelID, version)
	tf := ts[mpath]
	if tf == nil {
		return fmt.Errorf("%w: %s %s is not a target of top-level targets (a delegated role or hash bin signs it, or it is not published): halt it with its role's keys, without staging", ErrNotTopLevel, modelID, version)
	}
	c, err := targets.ParseCustom(mpath, tf.Custom)
	if err != nil {
		return err
	}
	v := &rollout.Version{ModelID: modelID, Version: version, Custom: *c, Others: rollout.Others(ts, modelID, version), Now: now}
	raw, err := rollout.Apply(v, mpath, change)
	if err != nil {
		return err
	}
	tf.Custom = raw
	return nil
}
