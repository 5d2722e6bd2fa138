package status

import (
	"encoding/json"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Controls are the signed rollout controls of one version
// (docs/rollout.md): its staged rollout (nil: a full release), its
// revocation and its download policy.
type Controls = targets.VersionControls

// controlsSummary lists, per model and in version order, the versions
// whose manifest target (as devices resolve it, in view) carries a
// control. A manifest target whose custom metadata does not parse is left
// out: mrepo verify reports it (CUSTOM_INVALID, CONTROL_INVALID).
func controlsSummary(view *metadata.Metadata[metadata.TargetsType]) map[string][]Controls {
	ts := view.Signed.Targets
	return targets.ControlsByModel(ts, func(p string) *json.RawMessage { return ts[p].Custom })
}
