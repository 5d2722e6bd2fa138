package repo

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// BinsStatus summarises succinct hash bins (TAP 15), one line for all of
// them however many there are.
type BinsStatus struct {
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

// delegationStatus adds every delegated role of the tree to out: named
// roles as rows of out.Roles (after the top-level ones, in delegation
// order), hash bins as out.Bins, with warnings for roles without metadata,
// under-signed or expiring roles, and targets a role lists outside its
// delegation (clients ignore them).
func (r *Repository) delegationStatus(tree *delegTree, out *Status, opts StatusOptions, now time.Time) {
	window := func(name string) time.Duration {
		if opts.WarnWithin != 0 {
			return opts.WarnWithin
		}
		return r.cfg.Expiry.For(name) / 4
	}
	expiryWarning := func(name string, expires time.Time) {
		switch left := expires.Sub(now); {
		case left <= 0:
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: EXPIRED at %s", name, expires.Format(targets.TimeFormat)))
		case left < window(name):
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: expires in %s (at %s)", name, duration.FormatRemaining(left), expires.Format(targets.TimeFormat)))
		}
	}
	for _, name := range tree.order {
		n := tree.nodes[name]
		parent := tree.meta(n.parent)
		var keyring map[string]*metadata.Key
		if parent != nil && parent.Signed.Delegations != nil {
			keyring = parent.Signed.Delegations.Keys
		}
		role := n.role()
		if n.md != nil {
			for _, p := range sortedKeys(n.md.Signed.Targets) {
				if !n.delegates(p) {
					out.Warnings = append(out.Warnings, fmt.Sprintf("%s lists %s, a path it is not delegated: devices ignore it (run mrepo verify)", name, p))
				}
			}
		}
		if n.bins != nil {
			bs := out.Bins
			if bs == nil {
				_, count := n.bins.GetSuffixLen()
				bs = &BinsStatus{NamePrefix: n.bins.NamePrefix, Bins: count, DelegatedBy: n.parent, KeyIDs: role.KeyIDs, Threshold: role.Threshold}
				out.Bins = bs
			}
			if n.md == nil {
				continue
			}
			s := n.md.Signed
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
			if countValid(keyring, role.KeyIDs, s, n.md.Signatures) >= role.Threshold && role.Threshold >= 1 {
				bs.ThresholdMet++
			}
			continue
		}
		rs := RoleStatus{Role: name, KeyIDs: role.KeyIDs, Threshold: role.Threshold, DelegatedBy: n.parent,
			Paths: n.deleg.Paths, Terminating: n.deleg.Terminating}
		if n.md == nil {
			rs.Pending = true
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: no metadata yet: devices cannot resolve the paths delegated to it until its keys sign it (mrepo add-target --role %s, or mrepo targets --role %s)", name, name, name))
			out.Roles = append(out.Roles, rs)
			continue
		}
		rs.Version, rs.Expires = n.md.Signed.Version, n.md.Signed.Expires
		rs.ValidSignatures = countValid(keyring, role.KeyIDs, n.md.Signed, n.md.Signatures)
		rs.ThresholdMet = rs.Threshold >= 1 && rs.ValidSignatures >= rs.Threshold
		if !rs.ThresholdMet {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: %d valid signatures, threshold %d", name, rs.ValidSignatures, rs.Threshold))
		}
		expiryWarning(name, rs.Expires)
		out.Roles = append(out.Roles, rs)
	}
	if bs := out.Bins; bs != nil {
		name := bs.NamePrefix + "-*"
		if bs.Published < bs.Bins {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: %d of %d hash bins have no metadata: lookups that hash to them fail", name, bs.Bins-bs.Published, bs.Bins))
		}
		if bs.ThresholdMet < bs.Published {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: %d of %d hash bins lack a threshold of valid signatures (%d)", name, bs.Published-bs.ThresholdMet, bs.Published, bs.Threshold))
		}
		if bs.Published > 0 {
			expiryWarning(name, bs.Expires)
		}
	}
}

// modelRoles lists the roles that sign the versions of each model (as
// clients resolve them), for the models that a delegated role signs.
func modelRoles(eff map[string]effTarget) map[string][]string {
	out := map[string][]string{}
	delegated := map[string]bool{}
	for p, e := range eff {
		pp, err := targets.ParseTargetPath(p)
		if err != nil || pp.File != targets.ManifestName {
			continue
		}
		if !slices.Contains(out[pp.ModelID], e.role) {
			out[pp.ModelID] = append(out[pp.ModelID], e.role)
		}
		if e.role != metadata.TARGETS {
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

// FormatBins is a one-line summary of hash bins for status output.
func FormatBins(bs *BinsStatus, now time.Time) string {
	last := fmt.Sprintf("%x", bs.Bins-1)
	first := strings.Repeat("0", len(last))
	var b strings.Builder
	ids := make([]string, len(bs.KeyIDs))
	for i, id := range bs.KeyIDs {
		ids[i] = keys.ShortID(id)
	}
	fmt.Fprintf(&b, "%d hash bins %s-%s..%s-%s (delegated by %s, terminating; threshold %d, keys %s): %d with metadata, %d targets",
		bs.Bins, bs.NamePrefix, first, bs.NamePrefix, last, bs.DelegatedBy, bs.Threshold, strings.Join(ids, ","), bs.Published, bs.Targets)
	if bs.Published > 0 {
		fmt.Fprintf(&b, ", versions %d-%d, earliest expiry %s (%s), signatures %d/%d bins ok",
			bs.MinVersion, bs.MaxVersion, bs.Expires.UTC().Format(targets.TimeFormat), duration.FormatRemaining(bs.Expires.Sub(now)), bs.ThresholdMet, bs.Published)
	}
	return b.String()
}
