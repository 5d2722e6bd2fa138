package status

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Bins summarises succinct hash bins (TAP 15), one line for all of them
// however many there are.
type Bins struct {
	NamePrefix  string   `json:"name_prefix"`
	Bins        int      `json:"bins"`
	DelegatedBy string   `json:"delegated_by"`
	KeyIDs      []string `json:"keyids"`
	Threshold   int      `json:"threshold"`
	// Published counts the bins with metadata; MinVersion and MaxVersion
	// their versions; Expires the earliest expiry among them.
	Published  int       `json:"published"`
	MinVersion int64     `json:"min_version"`
	MaxVersion int64     `json:"max_version"`
	Expires    time.Time `json:"expires"`
	// ThresholdMet counts the bins whose signatures meet the threshold.
	ThresholdMet int `json:"threshold_met"`
	// Targets counts the targets the bins list.
	Targets int `json:"targets"`
}

// delegations adds every delegated role of the tree to the report: named
// roles as rows of Roles (after the top-level ones, in delegation order),
// hash bins as Bins, with warnings for roles without metadata,
// under-signed or expiring roles, and targets a role lists outside its
// delegation (clients ignore them).
func (b *report) delegations(tree *delegation.Tree) {
	for _, name := range tree.Order {
		n := tree.Roles[name]
		parent := tree.Meta(n.Parent)
		var keyring map[string]*metadata.Key
		if parent != nil && parent.Signed.Delegations != nil {
			keyring = parent.Signed.Delegations.Keys
		}
		role := n.Keys()
		if n.Meta != nil {
			for _, p := range slices.Sorted(maps.Keys(n.Meta.Signed.Targets)) {
				if !n.Delegates(p) {
					b.Warnings = append(b.Warnings, fmt.Sprintf("%s lists %s, a path it is not delegated: devices ignore it (run mrepo verify)", name, p))
				}
			}
		}
		if n.Bins != nil {
			bs := b.Bins
			if bs == nil {
				_, count := n.Bins.GetSuffixLen()
				bs = &Bins{NamePrefix: n.Bins.NamePrefix, Bins: count, DelegatedBy: n.Parent, KeyIDs: role.KeyIDs, Threshold: role.Threshold}
				b.Bins = bs
			}
			if n.Meta == nil {
				continue
			}
			s := n.Meta.Signed
			if bs.Published == 0 || s.Version < bs.MinVersion {
				bs.MinVersion = s.Version
			}
			if bs.Published == 0 || s.Version > bs.MaxVersion {
				bs.MaxVersion = s.Version
			}
			if bs.Published == 0 || s.Expires.Before(bs.Expires) {
				bs.Expires = s.Expires
			}
			bs.Published++
			bs.Targets += len(s.Targets)
			if countValid(keyring, role.KeyIDs, s, n.Meta.Signatures) >= role.Threshold && role.Threshold >= 1 {
				bs.ThresholdMet++
			}
			continue
		}
		rs := Role{Role: name, KeyIDs: role.KeyIDs, Threshold: role.Threshold, DelegatedBy: n.Parent,
			Paths: n.Delegated.Paths, Terminating: n.Delegated.Terminating}
		if n.Meta == nil {
			rs.Pending = true
			b.Warnings = append(b.Warnings, fmt.Sprintf("%s: no metadata yet: devices cannot resolve the paths delegated to it until its keys sign it (mrepo add-target --role %s, or mrepo targets --role %s)", name, name, name))
			b.Roles = append(b.Roles, rs)
			continue
		}
		rs.Version, rs.Expires = n.Meta.Signed.Version, n.Meta.Signed.Expires
		rs.ValidSignatures = countValid(keyring, role.KeyIDs, n.Meta.Signed, n.Meta.Signatures)
		rs.ThresholdMet = rs.Threshold >= 1 && rs.ValidSignatures >= rs.Threshold
		if !rs.ThresholdMet {
			b.Warnings = append(b.Warnings, fmt.Sprintf("%s: %d valid signatures, threshold %d", name, rs.ValidSignatures, rs.Threshold))
		}
		b.expiryWarning(name, rs.Expires)
		b.Roles = append(b.Roles, rs)
	}
	if bs := b.Bins; bs != nil {
		name := bs.NamePrefix + "-*"
		if bs.Published < bs.Bins {
			b.Warnings = append(b.Warnings, fmt.Sprintf("%s: %d of %d hash bins have no metadata: lookups that hash to them fail", name, bs.Bins-bs.Published, bs.Bins))
		}
		if bs.ThresholdMet < bs.Published {
			b.Warnings = append(b.Warnings, fmt.Sprintf("%s: %d of %d hash bins lack a threshold of valid signatures (%d)", name, bs.Published-bs.ThresholdMet, bs.Published, bs.Threshold))
		}
		if bs.Published > 0 {
			b.expiryWarning(name, bs.Expires)
		}
	}
}

// modelRoles lists the roles that sign the versions of each model (as
// clients resolve them), for the models that a delegated role signs.
func modelRoles(eff map[string]delegation.Resolved) map[string][]string {
	out := map[string][]string{}
	delegated := map[string]bool{}
	for p, e := range eff {
		pp, err := targets.ParseTargetPath(p)
		if err != nil || pp.File != targets.ManifestName {
			continue
		}
		if !slices.Contains(out[pp.ModelID], e.Role) {
			out[pp.ModelID] = append(out[pp.ModelID], e.Role)
		}
		if e.Role != metadata.TARGETS {
			delegated[pp.ModelID] = true
		}
	}
	for id := range out {
		if !delegated[id] {
			delete(out, id)
			continue
		}
		sort.Strings(out[id])
	}
	return out
}
