package release

import (
	"errors"
	"fmt"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ErrEpoch: the rollback epoch of a published version cannot be read, or
// the one a new version would get is above targets.MaxEpoch.
var ErrEpoch = errors.New("rollback epoch")

// Epochs returns the rollback epoch of each published version of a model
// (targets.Custom.Epoch; absent is 0), keyed by version as published, and
// the versions oldest first. published holds the targets of every role as
// clients resolve them, so a model's versions in a delegated role or in
// hash bins are all seen.
func Epochs(published map[string]*metadata.TargetFiles, modelID string) (map[string]uint64, []targets.Version, error) {
	vs := targets.PublishedVersions(published)[modelID]
	out := make(map[string]uint64, len(vs))
	for _, v := range vs {
		p := targets.ManifestPath(modelID, v.String())
		tf := published[p]
		if tf == nil {
			return nil, nil, fmt.Errorf("%w: %s: no manifest target", ErrEpoch, p)
		}
		c, err := targets.ParseCustom(p, tf.Custom)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrEpoch, p, err)
		}
		out[v.String()] = c.Epoch
	}
	return out, vs, nil
}

// AssignEpoch is the rollback epoch of a new version of a model (docs/design.md,
// "Rollback epochs"): a version newer than every published version of the
// model gets the highest published epoch plus one (the first version 1; a
// model published before epochs existed has epoch 0 everywhere, so its
// next version gets 1); a version below the highest published one gets the
// epoch of the highest published version below it (0 if none), so epochs
// never decrease in version order. Fails closed (ErrEpoch) if a published
// version's epoch cannot be read or the result would exceed
// targets.MaxEpoch.
func AssignEpoch(published map[string]*metadata.TargetFiles, modelID string, nv targets.Version) (uint64, error) {
	epochs, vs, err := Epochs(published, modelID)
	if err != nil {
		return 0, err
	}
	var highest, below uint64
	newest := true
	for _, v := range vs {
		e := epochs[v.String()]
		highest = max(highest, e)
		switch c := v.Compare(nv); {
		case c < 0:
			below = max(below, e)
		case c >= 0:
			newest = false
		}
	}
	epoch := below
	if newest {
		epoch = highest + 1
	}
	if epoch > targets.MaxEpoch {
		return 0, fmt.Errorf("%w: %s %s would get epoch %d, above %d", ErrEpoch, modelID, nv, epoch, targets.MaxEpoch)
	}
	return epoch, nil
}
