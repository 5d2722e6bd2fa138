package repo

import (
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
)

// Beside is a published version as WithPublishedVersion hands it to a
// writer of files that live beside its targets but are not targets (the
// key envelopes of mrepo grant): no metadata changes.
type Beside struct {
	// Custom is the signed custom metadata of the version's manifest
	// target, as devices resolve it.
	Custom *targets.Custom
	// Store is the repository's target store (its files under targets/).
	Store targetstore.Store
}

// WithPublishedVersion runs fn under the writer lock with modelID@version
// resolved as devices resolve it, its signatures checked as every writer
// checks them (the top-level roles, and the delegated role that signs it),
// so that nothing is written for a version that was edited on disk. An
// unpublished version is rollout.ErrNotPublished.
func (r *Repository) WithPublishedVersion(modelID, version string, fn func(*Beside) error) error {
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
	ref, err := r.findVersion(st, modelID, version)
	if err != nil {
		return err
	}
	if ref.node != nil {
		if err := ref.tree.CheckSigned(ref.node); err != nil {
			return err
		}
	}
	return fn(&Beside{Custom: ref.custom, Store: r.targetStore()})
}
