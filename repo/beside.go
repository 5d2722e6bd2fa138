package repo

import (
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
)

// WithPublishedVersion runs fn, under the writer lock, with the signed
// custom metadata of modelID@version's manifest target, resolved as
// devices resolve it and signature-checked as every writer checks (the
// top-level roles, and the delegated role that signs it), and the target
// store: for writers of files that live beside a version's targets but
// are not targets (mrepo grant's key envelopes). No metadata changes. An
// unpublished version is rollout.ErrNotPublished.
func (r *Repository) WithPublishedVersion(modelID, version string, fn func(*targets.Custom, targetstore.Store) error) error {
	if _, err := targets.ParseVersion(version); err != nil {
		return err
	}
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	st, err := r.load()
	if err != nil {
		return err
	}
	if err := r.removeStaleOf(modelID); err != nil {
		return err
	}
	ref, err := r.findVersion(st, modelID, version)
	if err != nil {
		return err
	}
	if ref.Node != nil {
		if err := ref.Tree.CheckSigned(ref.Node); err != nil {
			return err
		}
	}
	return fn(ref.Custom, r.targetStore())
}
