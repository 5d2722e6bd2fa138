package devstate

import (
	"github.com/edgetuf/edgetuf/anti_rollback"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/targets"
)

// Floor is the lowest version the device accepts for a model: the
// application's minimum (minVersion), the anti-rollback floor in store
// and the confirmed active version (ptr, if not nil), whichever is
// highest.
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
	stored, ok, err := store.Floor(modelID)
	if err != nil {
		return best, false, codes.Errorf(codes.StateInvalid, err, "anti-rollback store")
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
