package status

import (
	"fmt"
	"sort"
	"time"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Role describes one role's current metadata.
type Role struct {
	Role            string    `json:"role"`
	Version         int64     `json:"version"`
	Expires         time.Time `json:"expires"`
	KeyIDs          []string  `json:"keyids"`
	Threshold       int       `json:"threshold"`
	ValidSignatures int       `json:"valid_signatures"`
	ThresholdMet    bool      `json:"threshold_met"`
	// Delegated roles (delegations.go): the delegating role, the path
	// patterns, terminating, and Pending for a role without metadata yet
	// (Version 0, no expiry).
	DelegatedBy string   `json:"delegated_by,omitempty"`
	Paths       []string `json:"paths,omitempty"`
	Terminating bool     `json:"terminating,omitempty"`
	Pending     bool     `json:"pending,omitempty"`
}

// Model lists the published versions of one model, oldest first, and the
// delta patches published between them.
type Model struct {
	ModelID  string   `json:"model_id"`
	Versions []string `json:"versions"`
	Latest   string   `json:"latest"`
	// Epochs are the versions' rollback epochs (targets.Custom.Epoch),
	// by version; a version whose custom metadata does not parse has none
	// (mrepo verify reports it).
	Epochs map[string]uint64 `json:"epochs"`
	// Encrypted lists the encrypted versions (docs/encryption.md) with
	// their delivery (targets.Encryption), by version; omitted when none is.
	Encrypted map[string]Encrypted `json:"encrypted,omitempty"`
	Deltas    []Delta              `json:"deltas,omitempty"`
	// Roles lists the roles that sign its versions, when a delegated role
	// signs some of them.
	Roles []string `json:"roles,omitempty"`
	// Controls lists the versions with a staged rollout, a revocation or
	// a download policy (controls.go); the others are full releases.
	Controls []Controls `json:"controls,omitempty"`
}

// Encrypted is how an encrypted version's content key reaches devices.
type Encrypted struct {
	Delivery  string `json:"delivery"`
	Recipient string `json:"recipient"`
}

// Delta summarises the patches that rebuild the files of Version from
// those of Base: how many there are and their total length.
type Delta struct {
	Version string `json:"version"`
	Base    string `json:"base"`
	Patches int    `json:"patches"`
	Bytes   int64  `json:"bytes"`
}

// Report is a summary of the repository for operators (mrepo status
// --json prints it as it is).
type Report struct {
	Repository string    `json:"repository"`
	Now        time.Time `json:"now"`
	Roles      []Role    `json:"roles"`
	Models     []Model   `json:"models"`
	// Bins summarises succinct hash bins, when targets delegates to them.
	Bins     *Bins    `json:"bins,omitempty"`
	Warnings []string `json:"warnings"`
	// Staged lists metadata staged for signing (DIR/staged/), with the
	// signatures it still lacks.
	Staged []staged.Info `json:"staged,omitempty"`
	// Sampling is the telemetry sampling configuration (sampling.go),
	// when top-level targets lists one.
	Sampling *Sampling `json:"sampling,omitempty"`
}

// Options tune Read.
type Options struct {
	// WarnWithin warns about roles expiring within this window. Zero means
	// a quarter of each role's configured lifetime (Lifetime), so a daily
	// timestamp warns in its last 6 hours and a yearly root in its last 3
	// months.
	WarnWithin time.Duration
	// Lifetime is how long the repository's configuration lets a role's
	// metadata stay valid (repo.Config's Expiry.For). Nil, with WarnWithin
	// zero, warns only about expired roles.
	Lifetime func(role string) time.Duration
	// Now is the time expiries are measured from; zero means time.Now().
	Now time.Time
}

// window is the warning window for a role.
func (o Options) window(role string) time.Duration {
	if o.WarnWithin != 0 || o.Lifetime == nil {
		return o.WarnWithin
	}
	return o.Lifetime(role) / 4
}

// report is a Report being built.
type report struct {
	*Report
	opts Options
	now  time.Time
}

// expiryWarning warns about a role that has expired or expires within its
// warning window.
func (b *report) expiryWarning(name string, expires time.Time) {
	switch left := expires.Sub(b.now); {
	case left <= 0:
		b.Warnings = append(b.Warnings, fmt.Sprintf("%s: EXPIRED at %s", name, expires.Format(targets.TimeFormat)))
	case left < b.opts.window(name):
		b.Warnings = append(b.Warnings, fmt.Sprintf("%s: expires in %s (at %s)", name, duration.FormatRemaining(left), expires.Format(targets.TimeFormat)))
	}
}

// Read reports, for the repository in dir, each role's version, expiry,
// keys and threshold and whether its signatures meet the threshold, the
// published models, and warnings for anything expired, expiring soon or
// under-signed. It reads metadata whose signatures do not verify too, so
// that it can show what is wrong; it fails only on metadata it cannot
// read (repofiles.ErrStoredMetadata).
func Read(fs afero.Fs, dir string, opts Options) (*Report, error) {
	st, err := repofiles.ReadState(fs, dir)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	b := &report{Report: &Report{Repository: dir, Now: now.Truncate(time.Second), Warnings: []string{}}, opts: opts, now: now}
	add := func(name string, version int64, expires time.Time, signed any, sigs []metadata.Signature) {
		role := st.Root.Signed.Roles[name]
		rs := Role{Role: name, Version: version, Expires: expires}
		if role != nil {
			rs.KeyIDs, rs.Threshold = role.KeyIDs, role.Threshold
			rs.ValidSignatures = countValid(st.Root.Signed.Keys, role.KeyIDs, signed, sigs)
		}
		rs.ThresholdMet = role != nil && rs.Threshold >= 1 && rs.ValidSignatures >= rs.Threshold
		if !rs.ThresholdMet {
			b.Warnings = append(b.Warnings, fmt.Sprintf("%s: %d valid signatures, threshold %d", name, rs.ValidSignatures, rs.Threshold))
		}
		b.expiryWarning(name, expires)
		b.Roles = append(b.Roles, rs)
	}
	add(metadata.ROOT, st.Root.Signed.Version, st.Root.Signed.Expires, st.Root.Signed, st.Root.Signatures)
	add(metadata.TARGETS, st.Targets.Signed.Version, st.Targets.Signed.Expires, st.Targets.Signed, st.Targets.Signatures)
	add(metadata.SNAPSHOT, st.Snapshot.Signed.Version, st.Snapshot.Signed.Expires, st.Snapshot.Signed, st.Snapshot.Signatures)
	add(metadata.TIMESTAMP, st.Timestamp.Signed.Version, st.Timestamp.Signed.Expires, st.Timestamp.Signed, st.Timestamp.Signatures)

	// Delegated roles and hash bins; models as clients resolve them.
	tree, err := delegation.LoadTree(fs, dir, st.Targets, st.Snapshot)
	if err != nil {
		return nil, err
	}
	b.delegations(tree)
	view := tree.View()
	roles := modelRoles(tree.Effective())
	deltas, warnings := deltaSummary(view)
	controls := controlsSummary(view)
	b.Warnings = append(b.Warnings, warnings...)
	for id, vs := range targets.PublishedVersions(view.Signed.Targets) {
		ms := Model{ModelID: id, Deltas: deltas[id], Roles: roles[id], Controls: controls[id], Epochs: map[string]uint64{}}
		for _, v := range vs {
			ms.Versions = append(ms.Versions, v.String())
			p := targets.ManifestPath(id, v.String())
			if c, err := targets.ParseCustom(p, view.Signed.Targets[p].Custom); err == nil {
				ms.Epochs[v.String()] = c.Epoch
				if c.Encrypted != nil {
					if ms.Encrypted == nil {
						ms.Encrypted = map[string]Encrypted{}
					}
					ms.Encrypted[v.String()] = Encrypted{Delivery: c.Encrypted.Delivery, Recipient: c.Encrypted.Recipient}
				}
			}
		}
		ms.Latest = ms.Versions[len(ms.Versions)-1]
		b.Models = append(b.Models, ms)
	}
	sort.Slice(b.Models, func(i, j int) bool { return b.Models[i].ModelID < b.Models[j].ModelID })
	b.Staged = staged.List(fs, dir, st.Root)
	if b.Sampling = ReadSampling(fs, dir, st.Targets); b.Sampling != nil && b.Sampling.Error != "" {
		b.Warnings = append(b.Warnings, "telemetry sampling config: "+b.Sampling.Error)
	}
	return b.Report, nil
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
		if pubkey.Verify(k, payload, sig) == nil {
			seen[id] = true
			n++
		}
	}
	return n
}

// deltaSummary groups the delta targets per model and (version, base), and
// warns about patches that devices would never use or could not find: a
// delta target its version's manifest does not list, or a listed patch
// that is not a target. mrepo verify reports these as DELTA_UNLISTED and
// DELTA_MISSING.
func deltaSummary(t *metadata.Metadata[metadata.TargetsType]) (map[string][]Delta, []string) {
	type key struct{ id, version, base string }
	sums := map[key]*Delta{}
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
			sums[k] = &Delta{Version: pp.Version, Base: pp.Base}
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
	out := map[string][]Delta{}
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
