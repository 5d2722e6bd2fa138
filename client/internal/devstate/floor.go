package devstate

import (
	"github.com/edgetuf/edgetuf/anti_rollback"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/targets"
)

// ActiveChecker is a store that checks, and may act on, the confirmed
// active version (client/internal/epochgate: a hardware epoch).
type ActiveChecker interface {
	CheckActive(modelID, version string) error
}

// Floor is the lowest version the device accepts for a model: the
// application's minimum (minVersion), the anti-rollback floor in store
// and the confirmed active version (ptr, if not nil), whichever is
// highest. A store that is an ActiveChecker checks the confirmed active
// version first.
func Floor(store anti_rollback.Store, minVersion, modelID string, ptr *Pointer) (targets.Version, bool, error) {
	var best targets.Version
	have := false
	consider := func(v targets.Version) {
		if !have || v.Compare(best) > 0 {
			best, have = v, true
		}
	}
	if minVersion != "" {
		v, err := targets.ParseVersion(minVersion)
		if err != nil {
			return best, false, codes.Errorf(codes.StateInvalid, err, "min version")
		}
		consider(v)
	}
	if ac, ok := store.(ActiveChecker); ok && ptr != nil && !ptr.Trial {
		if err := ac.CheckActive(modelID, ptr.Version); err != nil {
			return best, false, err
		}
	}
	stored, ok, err := store.Floor(modelID)
	if err != nil {
		return best, false, codes.Errorf(codes.Own(err, codes.StateInvalid), err, "anti-rollback store")
	}
	if ok {
		consider(stored)
	}
	if ptr != nil && !ptr.Trial {
		v, _ := targets.ParseVersion(ptr.Version) // validated by readPointer
		consider(v)
	}
	return best, have, nil
}
