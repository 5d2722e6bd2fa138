package anti_rollback

import "errors"

// ErrUnavailable marks a store whose backing hardware is absent,
// unreachable, cleared or reset, or whose records there do not match what
// the state directory says exists: the device must stop (fail closed)
// until an operator re-provisions the store.
var ErrUnavailable = errors.New("anti-rollback store unavailable")

// EpochStore is a Store that also keeps, per model, a rollback epoch
// floor in hardware. The client uses it when its store implements it:
// it refuses a version whose signed epoch (targets.Custom.Epoch; absent
// is 0) is below Epoch, and raises the epoch to a version's epoch once
// that version is confirmed healthy.
type EpochStore interface {
	Store
	// Epoch returns the model's epoch floor: 0 for a model that has none
	// yet; an error wrapping ErrUnavailable if the hardware cannot be
	// read or the model's record there is missing while the store says it
	// exists.
	Epoch(modelID string) (uint64, error)
	// RaiseEpoch raises the epoch floor to e; at or below it, a no-op.
	RaiseEpoch(modelID string, e uint64) error
}
