// Package epochgate is the client's anti-rollback store: the store an
// application gives (client.Options.AntiRollback) or the one the state
// directory's configuration names, and, when that store keeps a hardware
// rollback epoch (anti_rollback.EpochStore), the rules that enforce it
// against the signed epochs of the versions the metadata lists.
//
// The rules (docs/design.md, section 21):
//
//   - A version whose signed epoch (targets.Custom.Epoch; absent is 0) is
//     below the model's hardware epoch is not a candidate (Filter), so it
//     is never downloaded; asked for explicitly (an operator's rollback)
//     it is ROLLBACK_REJECTED (Allows). If the metadata lists no version
//     the epoch admits, the metadata is older than what the device ran:
//     ROLLBACK_REJECTED.
//   - The one way below: a version is admitted below the hardware epoch
//     when every epoch between its own (exclusive) and the hardware epoch
//     (inclusive) is listed, and every listed version in those epochs is
//     revoked in the current signed metadata. A file attacker cannot forge
//     a revocation, nor make an epoch disappear from the metadata.
//   - The epoch is raised to a version's epoch once that version is
//     confirmed healthy (Raise, from client/activate.go confirm), never at
//     activation: a version that fails its health check is rolled back
//     from, and the hardware must still admit the previous one. A crash
//     between the confirmation and the raise is repaired at the next
//     update (CheckActive: the confirmed active version raises it).
//   - Store errors that wrap anti_rollback.ErrUnavailable become
//     ANTI_ROLLBACK_UNAVAILABLE; nothing falls back to another store.
package epochgate

import (
	"errors"
	"sync"

	"github.com/edgetuf/edgetuf/anti_rollback"
	"github.com/edgetuf/edgetuf/anti_rollback/tpmstore"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/targets"
)

// Listed is what the gate needs of one listed version of a model, from
// signed metadata.
type Listed struct {
	Version targets.Version
	Epoch   uint64
	Revoked bool
}

// Gate is an anti_rollback.Store with the epoch rules on top.
type Gate struct {
	anti_rollback.Store
	epochs anti_rollback.EpochStore // nil: the store keeps no epoch

	mu   sync.Mutex
	seen map[string]seen
}

// seen is what the last Filter of a model saw.
type seen struct {
	hw     uint64
	listed []Listed
}

// Open returns the gate over opt, or (nil) over the store that spec (the
// state directory's configuration) names, with its files in dir.
func Open(opt anti_rollback.Store, spec, dir string) (*Gate, error) {
	s := opt
	if s == nil {
		var err error
		if s, err = tpmstore.OpenSpec(spec, dir); err != nil {
			return nil, codes.Errorf(codes.StateInvalid, err, "anti-rollback store")
		}
	}
	g := &Gate{Store: s, seen: map[string]seen{}}
	g.epochs, _ = s.(anti_rollback.EpochStore)
	return g, nil
}

// Err gives a store error its code: ANTI_ROLLBACK_UNAVAILABLE for the
// hardware, the code it carries, else STATE_INVALID.
func Err(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, anti_rollback.ErrUnavailable) {
		return codes.Errorf(codes.AntiRollbackUnavailable, err, format, args...)
	}
	return codes.Errorf(codes.Own(err, codes.StateInvalid), err, format, args...)
}

// Floor is the store's version floor.
func (g *Gate) Floor(modelID string) (targets.Version, bool, error) {
	v, ok, err := g.Store.Floor(modelID)
	return v, ok, Err(err, "anti-rollback store")
}

// Raise records the confirmed version v: the hardware epoch first, up to
// v's signed epoch (when the last Filter listed v), then the version
// floor.
func (g *Gate) Raise(modelID string, v targets.Version) error {
	if err := g.raiseTo(modelID, v.String()); err != nil {
		return err
	}
	return Err(g.Store.Raise(modelID, v), "raising the anti-rollback floor")
}

// RaiseFloor raises the version floor only: a repair of the file floor
// to a version (the application's minimum, the active one) that does not
// justify raising the hardware epoch.
func (g *Gate) RaiseFloor(modelID string, v targets.Version) error {
	return Err(g.Store.Raise(modelID, v), "raising the anti-rollback floor")
}

// StepDown steps the version floor down (the epoch never moves down;
// Filter has already checked that the revocation permits the step).
func (g *Gate) StepDown(modelID string, from, to targets.Version) error {
	return Err(g.Store.StepDown(modelID, from, to), "stepping the anti-rollback floor down from the revoked %s", from)
}

// Filter drops the candidates whose epoch the hardware epoch does not
// admit, and remembers what it saw for Raise, Allows and CheckActive. With
// a store that keeps no epoch it returns cands as they are.
func Filter[T any](g *Gate, modelID string, cands []T, info func(T) Listed) ([]T, error) {
	if g == nil || g.epochs == nil {
		return cands, nil
	}
	hw, err := g.epochs.Epoch(modelID)
	if err != nil {
		return nil, Err(err, "reading the hardware rollback epoch of %s", modelID)
	}
	listed := make([]Listed, len(cands))
	for i, c := range cands {
		listed[i] = info(c)
	}
	g.mu.Lock()
	g.seen[modelID] = seen{hw: hw, listed: listed}
	g.mu.Unlock()
	out := make([]T, 0, len(cands))
	for i, c := range cands {
		if admits(listed[i], listed, hw) {
			out = append(out, c)
		}
	}
	if len(out) == 0 && len(cands) > 0 {
		return nil, codes.Errorf(codes.RollbackRejected, nil, "every version of %s in the signed metadata has a rollback epoch below this device's hardware epoch %d: the metadata is older than what this device has run", modelID, hw)
	}
	return out, nil
}

// admits reports whether the hardware epoch hw admits c, given every
// listed version of its model.
func admits(c Listed, all []Listed, hw uint64) bool {
	if c.Epoch >= hw {
		return true
	}
	epochs := map[uint64]bool{}
	for _, o := range all {
		if o.Epoch > c.Epoch && o.Epoch <= hw {
			if !o.Revoked {
				return false
			}
			epochs[o.Epoch] = true
		}
	}
	return uint64(len(epochs)) == hw-c.Epoch
}

// find returns the last Filter's view of a model and the listed version v.
func (g *Gate) find(modelID, v string) (seen, *Listed) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.seen[modelID]
	for i := range s.listed {
		if s.listed[i].Version.String() == v {
			return s, &s.listed[i]
		}
	}
	return s, nil
}

// Allows refuses (ROLLBACK_REJECTED) a version asked for explicitly that
// the hardware epoch does not admit. Once a hardware epoch is set, a
// version the last Filter did not list (its manifest target was left out
// as unusable) is refused too: its epoch is unknown, and an unknown epoch
// must not pass for an admitted one.
func (g *Gate) Allows(modelID, v string) error {
	s, l := g.find(modelID, v)
	if l == nil {
		if s.hw == 0 {
			return nil
		}
		return codes.Errorf(codes.RollbackRejected, nil, "%s %s is not among the listed versions whose rollback epoch this device can check against its hardware epoch %d", modelID, v, s.hw)
	}
	if admits(*l, s.listed, s.hw) {
		return nil
	}
	return codes.Errorf(codes.RollbackRejected, nil, "%s %s has rollback epoch %d, below this device's hardware epoch %d (only a signed revocation of every version between permits it)", modelID, v, l.Epoch, s.hw)
}

// CheckActive checks the confirmed active version v against the hardware
// epoch. One the epoch admits raises the epoch to its own (a crash
// between confirmation and Raise leaves it lower). One it does not admit
// means the state directory was edited (the pointer moved back): it is
// ROLLBACK_REJECTED unless a newer listed version that the epoch admits
// and that is not revoked exists, which the update then installs (a
// publisher that lifted the revocation the device stepped down for).
func (g *Gate) CheckActive(modelID, v string) error {
	if g.epochs == nil {
		return nil
	}
	s, l := g.find(modelID, v)
	if l == nil {
		return nil
	}
	if admits(*l, s.listed, s.hw) {
		return g.raiseTo(modelID, v)
	}
	for _, o := range s.listed {
		if !o.Revoked && o.Version.Compare(l.Version) > 0 && admits(o, s.listed, s.hw) {
			return nil
		}
	}
	return g.Allows(modelID, v)
}

// raiseTo raises the hardware epoch to the epoch of the listed version v.
func (g *Gate) raiseTo(modelID, v string) error {
	if g.epochs == nil {
		return nil
	}
	s, l := g.find(modelID, v)
	if l == nil || l.Epoch <= s.hw {
		return nil
	}
	if err := g.epochs.RaiseEpoch(modelID, l.Epoch); err != nil {
		return Err(err, "raising the hardware rollback epoch of %s to %d", modelID, l.Epoch)
	}
	g.mu.Lock()
	if cur, ok := g.seen[modelID]; ok && cur.hw < l.Epoch {
		cur.hw = l.Epoch
		g.seen[modelID] = cur
	}
	g.mu.Unlock()
	return nil
}

// KeepsEpochs reports whether g filters by a hardware epoch (Filter
// needs every listed version then).
func (g *Gate) KeepsEpochs() bool { return g != nil && g.epochs != nil }
