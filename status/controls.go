package status

import (
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Controls are the signed rollout controls of one version
// (docs/rollout.md): its staged rollout (nil: a full release), its
// revocation and its download policy.
type Controls struct {
	Version string              `json:"version"`
	Rollout *targets.Rollout    `json:"rollout,omitempty"`
	Revoked *targets.Revocation `json:"revoked,omitempty"`
	Policy  *targets.Policy     `json:"policy,omitempty"`
}

// controlsSummary lists, per model and in version order, the versions
// whose manifest target (as devices resolve it, in view) carries a
// control. A manifest target whose custom metadata does not parse is left
// out: mrepo verify reports it (CUSTOM_INVALID, CONTROL_INVALID).
func controlsSummary(view *metadata.Metadata[metadata.TargetsType]) map[string][]Controls {
	out := map[string][]Controls{}
	for id, vs := range targets.PublishedVersions(view.Signed.Targets) {
		for _, v := range vs {
			p := targets.ManifestPath(id, v.String())
			c, err := targets.ParseCustom(p, view.Signed.Targets[p].Custom)
			if err != nil || (c.Rollout == nil && c.Revoked == nil && c.Policy == nil) {
				continue
			}
			out[id] = append(out[id], Controls{Version: v.String(), Rollout: c.Rollout, Revoked: c.Revoked, Policy: c.Policy})
		}
	}
	return out
}
