package audit

import (
	"maps"
	"slices"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// checkVersionIndexes checks every model version index target
// (targets.VersionIndex) against the versions published: it must parse,
// and name exactly the model's versions that have a manifest target. A
// wrong index cannot make a device accept anything (every version it
// names is looked up on its own), but it hides versions from devices,
// or sends them looking for versions that do not exist.
//
// Once any model has an index, every model with a version in a delegated
// role (a hash bin) must have one: mrepo trusts a missing index to mean
// that the model has no version there (mrepo.json "indexed").
func (v *verifier) checkVersionIndexes(jobs []*targetJob, models map[string]*modelVersion) {
	byModel := publishedByModel(models)
	indexed, delegated := map[string]bool{}, map[string]string{}
	for _, j := range jobs {
		if id, ok := targets.IsVersionIndexPath(j.path); ok {
			indexed[id] = true
		} else if j.custom != nil && j.custom.Kind == targets.KindManifest && j.role != metadata.TARGETS && delegated[j.custom.ModelID] == "" {
			delegated[j.custom.ModelID] = j.path
		}
	}
	for _, id := range slices.Sorted(maps.Keys(delegated)) {
		if len(indexed) > 0 && !indexed[id] {
			v.problem(VersionIndexMismatch, "", targets.VersionIndexPath(id), "missing: %s has versions in delegated roles (%s) but no version index; publish its next version with mrepo add-target to write one", id, delegated[id])
		}
	}
	for _, j := range jobs {
		id, ok := targets.IsVersionIndexPath(j.path)
		if !ok {
			continue
		}
		if j.tf.Length > targets.MaxVersionIndexSize {
			v.problem(VersionIndexInvalid, j.role, j.path, "%d bytes, at most %d allowed", j.tf.Length, targets.MaxVersionIndexSize)
			continue
		}
		if !j.res.ok {
			continue // the file's own problem is reported
		}
		vi, err := targets.ParseVersionIndex(j.res.data, id)
		if err != nil {
			v.problem(VersionIndexInvalid, j.role, j.path, "%v", err)
			continue
		}
		var published []string
		for _, pv := range byModel[id] {
			published = append(published, pv.v.String())
			if !slices.Contains(vi.Versions, pv.v.String()) {
				v.problem(VersionIndexMismatch, j.role, j.path, "does not list %s %s, which is published: devices listing versions from the index do not see it", id, pv.v)
			}
		}
		for _, s := range vi.Versions {
			if !slices.Contains(published, s) {
				v.problem(VersionIndexMismatch, j.role, j.path, "lists %s %s, which is not published (no manifest target)", id, s)
			}
		}
	}
}
