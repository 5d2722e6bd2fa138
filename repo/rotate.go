package repo

// Key rotation: every change of a top-level role's keys or threshold is a
// new root version N+1, which a threshold of root N's root keys and a
// threshold of its own must sign. Devices walk the chain 2.root.json,
// 3.root.json, ... from the root they trust, so one that was offline
// through several rotations still updates.
//
// Publishing root N+1 also re-signs what it invalidates: the roles whose
// keys or threshold changed, and every role above them in the chain that
// clients follow (targets -> snapshot -> timestamp), as new versions.
// Write order (see docs/rotation.md):
//
//  1. staged/root.json, the signed root N+1 (a journal: a crash after it
//     is completed by PublishStaged);
//  2. the re-signed N.targets.json and N.snapshot.json (new files), then
//     timestamp.json. Each is signed by the new keys and also by the old
//     keys at hand, so that it verifies under root N and under root N+1;
//  3. N+1.root.json;
//  4. staged/root.json is removed.
//
// With the old keys at hand, clients and mrepo verify see a valid
// repository after every step. Without them (a lost key), clients that
// refresh between steps 2 and 3 reject the timestamp once and recover on
// their next refresh; a crash there is completed by PublishStaged.

import (
	"errors"
	"fmt"

	"github.com/edgetuf/edgetuf/internal/rolesign"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/rootkeys"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// RotateOptions describe a change of one top-level role's keys (the
// fields of a rootkeys.Change, and how to publish it).
type RotateOptions struct {
	// Role is root, targets, snapshot or timestamp.
	Role string
	// AddKeys are public keys to add to the role.
	AddKeys []*metadata.Key
	// RemoveKeys are key IDs (or unique prefixes of at least 8 hex
	// digits) to remove from the role.
	RemoveKeys []string
	// Threshold is the role's new threshold; 0 keeps the current one.
	Threshold int
	// Stage only stages the new root (signed by the keys at hand), even if
	// those keys meet both thresholds.
	Stage bool
}

// RotateResult reports a rotation: published, or staged for more
// signatures.
type RotateResult struct {
	Role        string   `json:"role"`
	RootVersion int64    `json:"root_version"`
	Changes     []string `json:"changes"`
	// KeyIDs and Threshold are the role's keys and threshold in the new root.
	KeyIDs     []string                `json:"keyids"`
	Threshold  int                     `json:"threshold"`
	Signatures *staged.SignatureStatus `json:"signatures"`
	Published  bool                    `json:"published"`
	// Resigned lists the roles re-signed with the new keys (as new
	// versions, in Versions) when the root was published.
	Resigned []string  `json:"resigned"`
	Versions *Versions `json:"metadata_versions,omitempty"`
	// Staged is set when the root was staged rather than published.
	Staged   *StageResult `json:"staged,omitempty"`
	Warnings []string     `json:"warnings"`
}

// Rotate builds root N+1 with opts' changes to one role and a fresh root
// expiry, and signs it with every root key of root N and N+1 that kr holds
// (kr may be nil: nothing is signed). If both thresholds are met (and not
// opts.Stage), it publishes root N+1 and re-signs the roles it
// invalidates, which needs their new keys in kr; otherwise it stages root
// N+1 in DIR/staged/root.json for the remaining holders to sign.
func (r *Repository) Rotate(kr keys.Keyring, opts RotateOptions) (*RotateResult, error) {
	if err := staged.CheckTopLevelRole(opts.Role); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRotation, err)
	}
	// Root N+1 is built and signed before the writer lock is taken: at a
	// ceremony, holders typing passphrases may take longer than other
	// writers (cron) wait for the lock. Under the lock, the root must
	// still be the one that was signed over.
	st0, err := r.load()
	if err != nil {
		return nil, err
	}
	if err := r.checkNotStaged(metadata.ROOT); err != nil {
		return nil, err
	}
	if st0.root.Signed.Roles[opts.Role] == nil {
		return nil, storedErr("root", fmt.Errorf("no %s role", opts.Role))
	}
	nr, err := rootkeys.Next(st0.root, rootkeys.Change{Role: opts.Role, AddKeys: opts.AddKeys, RemoveKeys: opts.RemoveKeys, Threshold: opts.Threshold}, r.expires(metadata.ROOT))
	if err != nil {
		return nil, err
	}
	sm := &staged.File{Role: metadata.ROOT, Root: nr}
	role := nr.Signed.Roles[opts.Role]
	res := &RotateResult{Role: opts.Role, RootVersion: nr.Signed.Version, Changes: staged.RootChanges(st0.root, nr),
		KeyIDs: role.KeyIDs, Threshold: role.Threshold, Resigned: []string{}, Warnings: []string{}}
	if res.Changes == nil {
		res.Changes = []string{}
	}
	if kr != nil {
		for _, id := range rootkeys.SigningOrder(st0.root, nr) {
			s, err := kr.Signer(id)
			if errors.Is(err, keys.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if err := sm.Sign(id, s); err != nil {
				return nil, err
			}
		}
	}
	v, err := r.update(r.load, func(t *tx) error { return r.rotate(t, st0, sm, kr, opts, res) })
	if err != nil {
		return nil, err
	}
	if res.Published {
		res.Versions = v
	}
	return res, nil
}

// rotate publishes root N+1 (sm) if its signatures meet both thresholds,
// or stages it.
func (r *Repository) rotate(t *tx, st0 *state, sm *staged.File, kr keys.Keyring, opts RotateOptions, res *RotateResult) error {
	st, nr := t.st, sm.Root
	if st.root.Signed.Version != st0.root.Signed.Version || !sameSigned(st.root.Signed, st0.root.Signed) {
		return fmt.Errorf("%w: root v%d was published while the keys were opened: run the rotation again", ErrStaged, st.root.Signed.Version)
	}
	if err := r.checkNotStaged(metadata.ROOT); err != nil {
		return err
	}
	res.Signatures = staged.CheckSignatures(sm, st.root)
	if res.Signatures.Met && !opts.Stage {
		if err := staged.Verify(sm, st.root); err != nil {
			return err
		}
		plan, err := r.planRoot(st, st.root, nr, kr)
		switch {
		case err == nil:
			if err := staged.CleanSignatures(sm, staged.EligibleKeys(sm, st.root)); err != nil {
				return err
			}
			// The journal first: a crash from here on is completed by
			// PublishStaged.
			t.writeStaged(sm)
			applyRoot(t, nr, plan, true)
			res.Published, res.Resigned = true, plan.Roles()
			res.Warnings = append(res.Warnings, plan.Warnings...)
			return nil
		case errors.Is(err, ErrThreshold):
			res.Warnings = append(res.Warnings, fmt.Sprintf("root v%d is signed but not published: %v; publish it with mrepo publish-staged --role root where those keys are", nr.Signed.Version, err))
		default:
			return err
		}
	}
	t.writeStaged(sm)
	res.Staged = &StageResult{Role: metadata.ROOT, Version: nr.Signed.Version, Expires: nr.Signed.Expires, File: StagedPath(r.dir, metadata.ROOT), Summary: staged.Describe(sm, st.root), Signatures: res.Signatures}
	return nil
}

// rootPlan is what publishing a root N+1 re-signs (rolesign.PlanRoot).
type rootPlan = rolesign.RootPlan

func (st *state) roleMD(role string) any {
	switch role {
	case metadata.TARGETS:
		return st.targets
	case metadata.SNAPSHOT:
		return st.snapshot
	}
	return st.timestamp
}

// planRoot plans what publishing nr re-signs (rolesign.PlanRoot).
func (r *Repository) planRoot(st *state, old, nr *metadata.Metadata[metadata.RootType], kr keys.Keyring) (*rootPlan, error) {
	return rolesign.PlanRoot(st.roleMD, old, nr, kr)
}

// applyRoot declares what plan re-signs, then nr as N+1.root.json unless
// it is already published (writeRoot false), then the journal's removal.
func applyRoot(t *tx, nr *metadata.Metadata[metadata.RootType], plan *rootPlan, writeRoot bool) {
	if plan.NewTS {
		t.publish(plan.Signers, plan.Roles()...)
	}
	if writeRoot {
		t.writeRoot(nr)
	}
	t.removeStaged(metadata.ROOT)
}

// rotationHint explains, for a role that no longer verifies, that a
// staged root is probably half-published.
func (r *Repository) rotationHint() string {
	if _, err := r.fs.Stat(StagedPath(r.dir, metadata.ROOT)); err != nil {
		return ""
	}
	return " (a root rotation is staged and may have been interrupted: run mrepo publish-staged --role root to complete it)"
}

// checkRootLink checks that the newest root is signed by a threshold of
// the root keys of the version before it (rolesign.CheckRootLink).
func (r *Repository) checkRootLink(root *metadata.Metadata[metadata.RootType]) error {
	return rolesign.CheckRootLink(r.fs, r.dir, root)
}
