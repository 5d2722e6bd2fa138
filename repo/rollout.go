package repo

// Rollout control (docs/rollout.md): a version's staged rollout, its
// revocation (the kill switch) and its download policy are signed fields
// of its manifest target's custom metadata (targets.Custom). Package
// rollout plans each change on that metadata; here the change re-signs
// the role that signs that manifest target (top-level targets, a
// delegated role or a hash bin, found as a device's lookup finds it),
// then snapshot and timestamp, through the one write path (update.go). No
// target file is written, moved or read: the payload stays as published.

import (
	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/rolesign"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ControlResult reports a version's controls after a change, and what was
// signed.
type ControlResult struct {
	ModelID string              `json:"model_id"`
	Version string              `json:"version"`
	Rollout *targets.Rollout    `json:"rollout,omitempty"`
	Revoked *targets.Revocation `json:"revoked,omitempty"`
	Policy  *targets.Policy     `json:"policy,omitempty"`
	// Role signs the version's manifest target: "targets" or a delegated
	// role (a hash bin's name); RoleVersion is the version it got.
	Role        string   `json:"role"`
	RoleVersion int64    `json:"role_version"`
	Versions    Versions `json:"metadata_versions"`
	Warnings    []string `json:"warnings,omitempty"`
}

// versionRef is a published version as devices resolve its manifest
// target (delegation.Version).
type versionRef = delegation.Version

// findVersion resolves modelID@version as a device's lookup does, of hash
// bins reading only the model's (delegation.LoadModel), each checked:
// a change builds on all of them (the other versions' controls).
func (r *Repository) findVersion(st *state, modelID, version string) (*versionRef, error) {
	mr := r.modelRead(modelID)
	mr.Paths = []string{targets.ManifestPath(modelID, version)}
	tree, err := delegation.LoadModel(r.fs, r.dir, st.targets, st.snapshot, mr)
	if err == nil && tree.Partial {
		err = tree.CheckAllSigned()
	}
	if err != nil {
		return nil, err
	}
	return tree.FindVersion(modelID, version)
}

// ChangeControls changes the controls of the published version
// modelID@version as change plans it (package rollout: rollout.Set,
// Halt, Revoke, Unrevoke, SetPolicy, SetExactly) and publishes the
// result: under the writer lock, it resolves the version as devices do,
// applies the change to its custom metadata (checked as a device will),
// gathers the signers (the role that signs the manifest target, snapshot,
// timestamp) and declares the writes.
func (r *Repository) ChangeControls(modelID, version string, kr keys.Keyring, change rollout.Change) (*ControlResult, error) {
	if _, err := targets.ParseVersion(version); err != nil {
		return nil, err
	}
	res := &ControlResult{ModelID: modelID, Version: version}
	v, err := r.update(r.load, func(t *tx) error {
		ref, err := r.findVersion(t.st, modelID, version)
		if err != nil {
			return err
		}
		rv := &rollout.Version{ModelID: modelID, Version: version, Custom: *ref.Custom, Others: rollout.Others(ref.View.Signed.Targets, modelID, version), Now: r.Now()}
		raw, err := rollout.Apply(rv, ref.ManifestPath, change)
		res.Warnings = rv.Warnings
		if err != nil {
			return err
		}
		res.Rollout, res.Revoked, res.Policy = rv.Custom.Rollout, rv.Custom.Revoked, rv.Custom.Policy
		if ref.Node == nil {
			ss, err := gatherSigners(t.st, kr, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
			if err != nil {
				return err
			}
			ref.Target.Custom = raw
			res.Role = metadata.TARGETS
			t.publish(ss, metadata.TARGETS)
			return nil
		}
		n := ref.Node
		rs, err := rolesign.Delegated(ref.Tree, n, kr)
		if err != nil {
			return err
		}
		ss, err := gatherSigners(t.st, kr, metadata.SNAPSHOT, metadata.TIMESTAMP)
		if err != nil {
			return err
		}
		ref.Target.Custom = raw
		res.Role = n.Name
		res.RoleVersion = t.writeRole(n, n.Meta, rs)
		t.publish(ss, metadata.SNAPSHOT)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Versions = *v
	if res.Role == metadata.TARGETS {
		res.RoleVersion = v.Targets
	}
	return res, nil
}
