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
	byModel := publishedByModel(models)
	for _, id := range slices.Sorted(maps.Keys(byModel)) {
		vs := byModel[id]
		var top publishedVersion // the version with the highest epoch so far
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

// publishedVersion is a version of a model whose manifest target's custom
// metadata parses.
type publishedVersion struct {
	v     targets.Version
	epoch uint64
	path  string // its manifest target
}

// publishedByModel lists each model's versions in version order (equal
// precedence: by their text).
func publishedByModel(models map[string]*modelVersion) map[string][]publishedVersion {
	byModel := map[string][]publishedVersion{}
	for _, mv := range models {
		if mv.manifest == nil {
			continue
		}
		pv, err := targets.ParseVersion(mv.manifest.Version)
		if err != nil {
			continue
		}
		byModel[mv.manifest.ModelID] = append(byModel[mv.manifest.ModelID], publishedVersion{pv, mv.manifest.Epoch, mv.manifestPath})
	}
	for _, vs := range byModel {
		sort.Slice(vs, func(i, j int) bool {
			if c := vs[i].v.Compare(vs[j].v); c != 0 {
				return c < 0
			}
			return vs[i].v.String() < vs[j].v.String()
		})
	}
	return byModel
}
