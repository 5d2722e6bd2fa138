package audit

import (
	"encoding/json"
	"maps"
	"slices"
	"sort"

	"github.com/edgetuf/edgetuf/targets"
)

// customCode is the code of custom metadata that does not parse:
// EPOCH_INVALID when its epoch is above targets.MaxEpoch (the bound a
// hardware counter relies on), else CUSTOM_INVALID.
func customCode(raw *json.RawMessage) Code {
	var c struct {
		Epoch uint64 `json:"epoch"`
	}
	if raw != nil && json.Unmarshal(*raw, &c) == nil && c.Epoch > targets.MaxEpoch {
		return EpochInvalid
	}
	return CustomInvalid
}

// checkEpochs reports, per model, a version whose rollback epoch is lower
// than that of an older version: a device's anti-rollback counter, raised
// to the older version's epoch, would refuse the newer one (mrepo
// add-target never assigns such an epoch; another tool may).
func (v *verifier) checkEpochs(models map[string]*modelVersion) {
	type pub struct {
		v     targets.Version
		epoch uint64
		path  string
	}
	byModel := map[string][]pub{}
	for _, mv := range models {
		if mv.manifest == nil {
			continue
		}
		pv, err := targets.ParseVersion(mv.manifest.Version)
		if err != nil {
			continue
		}
		byModel[mv.manifest.ModelID] = append(byModel[mv.manifest.ModelID], pub{pv, mv.manifest.Epoch, mv.manifestPath})
	}
	for _, id := range slices.Sorted(maps.Keys(byModel)) {
		vs := byModel[id]
		sort.Slice(vs, func(i, j int) bool { return vs[i].v.Compare(vs[j].v) < 0 })
		var top pub // the version with the highest epoch so far
		for i, p := range vs {
			if i > 0 && p.epoch < top.epoch {
				v.problem(EpochInvalid, "", p.path, "%s %s has rollback epoch %d, below epoch %d of the older %s %s: devices whose anti-rollback counter reached %d refuse it", id, p.v, p.epoch, top.epoch, id, top.v, top.epoch)
			}
			if i == 0 || p.epoch > top.epoch {
				top = p
			}
		}
	}
}
