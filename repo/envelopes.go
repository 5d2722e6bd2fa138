package repo

import (
	"errors"
	"fmt"

	"filippo.io/age/tag"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
)

// ErrNotEncrypted: a version to write key envelopes for is published
// unencrypted, or encrypted with another content key. A version that is
// not published is rollout.ErrNotPublished.
var ErrNotEncrypted = errors.New("not an encrypted version")

// WriteEnvelopes publishes, beside the payload of modelID at version, a
// key envelope for every recipient (device or fleet keys, "age1tag1..."):
// the version's content key sealed for it (targets.EnvelopeDir,
// targetstore.Store.PutEnvelopes). The version must be published,
// encrypted with key (its signed recipient is key's) and delivered by
// envelopes (delivery fleet or device; a keyserver version has none). It
// runs under the writer lock, on signature-checked metadata, and signs
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
	enc := ref.custom.Encrypted
	if enc == nil {
		return 0, fmt.Errorf("%w: %s %s is published unencrypted", ErrNotEncrypted, modelID, version)
	}
	if enc.Delivery == targets.DeliveryKeyServer {
		return 0, fmt.Errorf("%w: %s %s is delivered by the key service, which publishes no envelopes", ErrNotEncrypted, modelID, version)
	}
	if enc.Recipient != key.Recipient() {
		return 0, fmt.Errorf("%w: %s %s is encrypted for %s, not for this content key (%s)", ErrNotEncrypted, modelID, version, enc.Recipient, key.Recipient())
	}
	return r.targetStore().PutEnvelopes(modelID, version, recipients, key)
}
