package repo

import (
	"fmt"
	"sort"
	"time"

	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// RoleStatus describes one role's current metadata.
type RoleStatus struct {
	Role            string    `json:"role"`
	Version         int64     `json:"version"`
	Expires         time.Time `json:"expires"`
	KeyIDs          []string  `json:"keyids"`
	Threshold       int       `json:"threshold"`
	ValidSignatures int       `json:"valid_signatures"`
	ThresholdMet    bool      `json:"threshold_met"`
	// Delegated roles (delegate_status.go): the delegating role, the path
	// patterns, terminating, and Pending for a role without metadata yet
	// (Version 0, no expiry).
	DelegatedBy string   `json:"delegated_by,omitempty"`
	Paths       []string `json:"paths,omitempty"`
	Terminating bool     `json:"terminating,omitempty"`
	Pending     bool     `json:"pending,omitempty"`
}

// ModelStatus lists the published versions of one model, oldest first,
// and the delta patches published between them.
type ModelStatus struct {
	ModelID  string        `json:"model_id"`
	Versions []string      `json:"versions"`
	Latest   string        `json:"latest"`
	Deltas   []DeltaStatus `json:"deltas,omitempty"`
	// Roles lists the roles that sign its versions, when a delegated role
	// signs some of them.
	Roles []string `json:"roles,omitempty"`
}

// DeltaStatus summarises the patches that rebuild the files of Version
// from those of Base: how many there are and their total length.
type DeltaStatus struct {
	Version string `json:"version"`
	Base    string `json:"base"`
	Patches int    `json:"patches"`
	Bytes   int64  `json:"bytes"`
}

// Status is a summary of the repository for operators.
type Status struct {
	Repository string        `json:"repository"`
	Now        time.Time     `json:"now"`
	Roles      []RoleStatus  `json:"roles"`
	Models     []ModelStatus `json:"models"`
	// Bins summarises succinct hash bins, when targets delegates to them.
	Bins     *BinsStatus `json:"bins,omitempty"`
	Warnings []string    `json:"warnings"`
	// Staged lists metadata staged for signing (DIR/staged/), with the
	// signatures it still lacks.
	Staged []staged.Info `json:"staged,omitempty"`
}

// StatusOptions tune Status.
type StatusOptions struct {
	// WarnWithin warns about roles expiring within this window. Zero means
	// a quarter of each role's configured lifetime, so a daily timestamp
	// warns in its last 6 hours and a yearly root in its last 3 months.
	WarnWithin time.Duration
}

// Status reports each role's version, expiry, keys and threshold and
// whether its signatures meet the threshold, the published models, and
// warnings for anything expired, expiring soon or under-signed.
func (r *Repository) Status(opts StatusOptions) (*Status, error) {
	st, err := r.loadUnverified()
	if err != nil {
		return nil, err
	}
	now := r.Now().UTC()
	out := &Status{Repository: r.dir, Now: now.Truncate(time.Second), Warnings: []string{}}
	add := func(name string, version int64, expires time.Time, signed any, sigs []metadata.Signature) {
		role := st.root.Signed.Roles[name]
		rs := RoleStatus{Role: name, Version: version, Expires: expires}
		if role != nil {
			rs.KeyIDs, rs.Threshold = role.KeyIDs, role.Threshold
			rs.ValidSignatures = countValid(st.root.Signed.Keys, role.KeyIDs, signed, sigs)
		}
		rs.ThresholdMet = role != nil && rs.Threshold >= 1 && rs.ValidSignatures >= rs.Threshold
		if !rs.ThresholdMet {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: %d valid signatures, threshold %d", name, rs.ValidSignatures, rs.Threshold))
		}
		window := opts.WarnWithin
		if window == 0 {
			window = r.cfg.Expiry.For(name) / 4
		}
		switch left := expires.Sub(now); {
		case left <= 0:
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: EXPIRED at %s", name, expires.Format(targets.TimeFormat)))
		case left < window:
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: expires in %s (at %s)", name, duration.FormatRemaining(left), expires.Format(targets.TimeFormat)))
		}
		out.Roles = append(out.Roles, rs)
	}
	add(metadata.ROOT, st.root.Signed.Version, st.root.Signed.Expires, st.root.Signed, st.root.Signatures)
	add(metadata.TARGETS, st.targets.Signed.Version, st.targets.Signed.Expires, st.targets.Signed, st.targets.Signatures)
	add(metadata.SNAPSHOT, st.snapshot.Signed.Version, st.snapshot.Signed.Expires, st.snapshot.Signed, st.snapshot.Signatures)
	add(metadata.TIMESTAMP, st.timestamp.Signed.Version, st.timestamp.Signed.Expires, st.timestamp.Signed, st.timestamp.Signatures)

	// Delegated roles and hash bins; models as clients resolve them.
	tree, err := r.loadTree(st)
	if err != nil {
		return nil, err
	}
	r.delegationStatus(tree, out, opts, now)
	view := tree.view(st)
	roles := modelRoles(tree.effective())
	deltas, warnings := deltaSummary(view.targets)
	out.Warnings = append(out.Warnings, warnings...)
	for id, vs := range publishedVersions(view.targets) {
		ms := ModelStatus{ModelID: id, Deltas: deltas[id], Roles: roles[id]}
		for _, v := range vs {
			ms.Versions = append(ms.Versions, v.String())
		}
		ms.Latest = ms.Versions[len(ms.Versions)-1]
		out.Models = append(out.Models, ms)
	}
	sort.Slice(out.Models, func(i, j int) bool { return out.Models[i].ModelID < out.Models[j].ModelID })
	out.Staged = staged.List(r.fs, r.dir, st.root)
	return out, nil
}

// countValid counts the role's keys that have a valid signature over the
// canonical form of signed.
func countValid(keyring map[string]*metadata.Key, keyIDs []string, signed any, sigs []metadata.Signature) int {
	payload, err := cjson.EncodeCanonical(signed)
	if err != nil {
		return 0
	}
	byID := map[string][]byte{}
	for _, s := range sigs {
		byID[s.KeyID] = s.Signature
	}
	n := 0
	seen := map[string]bool{}
	for _, id := range keyIDs {
		k, sig := keyring[id], byID[id]
		if k == nil || sig == nil || seen[id] {
			continue
		}
		if keys.Verify(k, payload, sig) == nil {
			seen[id] = true
			n++
		}
	}
	return n
}

// loadUnverified reads the current state without requiring valid
// signatures, for reporting.
func (r *Repository) loadUnverified() (*state, error) {
	st, err := r.load()
	if err == nil {
		return st, nil
	}
	// Fall back to a plain read so that status can show what is wrong.
	return r.readState()
}

// deltaSummary groups the delta targets per model and (version, base), and
// warns about patches that devices would never use or could not find: a
// delta target its version's manifest does not list, or a listed patch
// that is not a target. mrepo verify reports these as DELTA_UNLISTED and
// DELTA_MISSING.
func deltaSummary(t *metadata.Metadata[metadata.TargetsType]) (map[string][]DeltaStatus, []string) {
	type key struct{ id, version, base string }
	sums := map[key]*DeltaStatus{}
	listed := map[string]bool{}
	var warnings []string
	for p, tf := range t.Signed.Targets {
		pp, err := targets.ParseTargetPath(p)
		if err != nil {
			continue
		}
		if pp.File == targets.ManifestName {
			c, err := targets.ParseCustom(p, tf.Custom)
			if err != nil {
				continue
			}
			for _, refs := range c.Deltas {
				for _, ref := range refs {
					listed[ref.Target] = true
					if t.Signed.Targets[ref.Target] == nil {
						warnings = append(warnings, fmt.Sprintf("%s lists patch %s, which is not a target (run mrepo verify)", p, ref.Target))
					}
				}
			}
			continue
		}
		if pp.Base == "" {
			continue
		}
		k := key{pp.ModelID, pp.Version, pp.Base}
		if sums[k] == nil {
			sums[k] = &DeltaStatus{Version: pp.Version, Base: pp.Base}
		}
		sums[k].Patches++
		sums[k].Bytes += tf.Length
	}
	for p := range t.Signed.Targets {
		if pp, err := targets.ParseTargetPath(p); err == nil && pp.Base != "" && !listed[p] {
			warnings = append(warnings, fmt.Sprintf("delta target %s is not listed by its manifest (run mrepo verify)", p))
		}
	}
	sort.Strings(warnings)
	out := map[string][]DeltaStatus{}
	for k, s := range sums {
		out[k.id] = append(out[k.id], *s)
	}
	for id := range out {
		ds := out[id]
		sort.Slice(ds, func(i, j int) bool {
			vi, _ := targets.ParseVersion(ds[i].Version)
			vj, _ := targets.ParseVersion(ds[j].Version)
			if c := vi.Compare(vj); c != 0 {
				return c < 0
			}
			bi, _ := targets.ParseVersion(ds[i].Base)
			bj, _ := targets.ParseVersion(ds[j].Base)
			return bi.Compare(bj) < 0
		})
	}
	return out, warnings
}
