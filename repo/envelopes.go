package repo

import (
	"filippo.io/age/tag"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/release"
)

// ErrNotEncrypted is release.ErrNotEncrypted (a version that is not
// published is rollout.ErrNotPublished).
var ErrNotEncrypted = release.ErrNotEncrypted

// WriteEnvelopes publishes, beside the payload of modelID at version, a
// key envelope for every recipient (device or fleet keys, "age1tag1..."):
// the version's content key sealed for it (targets.EnvelopeDir,
// targetstore.Store.PutEnvelopes). The version must be published,
// encrypted with key and delivered by envelopes (release.CheckEnvelopes).
// It runs under the writer lock, on signature-checked metadata, and signs
// nothing: envelopes are not targets. It returns how many envelopes were
// written.
func (r *Repository) WriteEnvelopes(modelID, version string, recipients []*tag.Recipient, key *modelcrypt.ContentKey) (int, error) {
	unlock, err := r.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	st, err := r.load()
	if err != nil {
		return 0, err
	}
	ref, err := r.findVersion(st, modelID, version)
	if err != nil {
		return 0, err
	}
	if err := release.CheckEnvelopes(ref.custom, key.Recipient()); err != nil {
		return 0, err
	}
	return r.targetStore().PutEnvelopes(modelID, version, recipients, key)
}
