package targets

import "encoding/json"

// VersionControls are the signed rollout controls of one published
// version (docs/rollout.md): its staged rollout (nil: a full release), its
// revocation and its download policy. mrepo status and mrepo verify
// report them.
type VersionControls struct {
	Version string      `json:"version"`
	Rollout *Rollout    `json:"rollout,omitempty"`
	Revoked *Revocation `json:"revoked,omitempty"`
	Policy  *Policy     `json:"policy,omitempty"`
}

// ControlsByModel lists, per model ID and in version order, the versions
// whose manifest target carries a control. custom maps target paths to
// their custom metadata (a role's targets, or several roles' merged as
// clients resolve them); it is called with each manifest path. A manifest
// whose custom metadata does not parse is left out: the caller reports it
// (mrepo verify: CUSTOM_INVALID, CONTROL_INVALID).
func ControlsByModel[V any](targetPaths map[string]V, custom func(path string) *json.RawMessage) map[string][]VersionControls {
	out := map[string][]VersionControls{}
	for id, vs := range PublishedVersions(targetPaths) {
		for _, v := range vs {
			p := ManifestPath(id, v.String())
			c, err := ParseCustom(p, custom(p))
			if err != nil || (c.Rollout == nil && c.Revoked == nil && c.Policy == nil) {
				continue
			}
			out[id] = append(out[id], VersionControls{Version: v.String(), Rollout: c.Rollout, Revoked: c.Revoked, Policy: c.Policy})
		}
	}
	return out
}
