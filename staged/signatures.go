package staged

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// KeyGroup is one set of keys whose threshold staged metadata must meet,
// and which of them have signed.
type KeyGroup struct {
	// Name says whose keys these are: "root v2" (the previous root's root
	// keys), "root v3" (the new root's own), or the role and root version
	// for other roles ("targets (root v3)").
	Name      string   `json:"name"`
	Threshold int      `json:"threshold"`
	KeyIDs    []string `json:"keyids"`
	Signed    []string `json:"signed"`
	Missing   []string `json:"missing"`
	label     string   // for messages: "the old root keys"
}

// Met reports whether the group's threshold is met.
func (g KeyGroup) Met() bool { return g.Threshold >= 1 && len(g.Signed) >= g.Threshold }

// SignatureStatus says whether staged metadata carries enough valid
// signatures: a new root version needs a threshold of the previous root's
// root keys and of its own; other roles the threshold of their keys.
type SignatureStatus struct {
	Role    string     `json:"role"`
	Version int64      `json:"version"`
	Groups  []KeyGroup `json:"groups"`
	Met     bool       `json:"threshold_met"`
}

// Detail lists each group: "1 of 2 signatures from the old root keys
// (missing: 1a2b3c4d, 5e6f7a8b), 2 of 2 from the new".
func (s *SignatureStatus) Detail() string {
	var parts []string
	for i, g := range s.Groups {
		p := fmt.Sprintf("%d of %d", len(g.Signed), g.Threshold)
		if i == 0 {
			p += " signatures"
		}
		p += " from " + g.label
		if !g.Met() && len(g.Missing) > 0 {
			short := make([]string, len(g.Missing))
			for j, id := range g.Missing {
				short[j] = keys.ShortID(id)
			}
			p += " (missing: " + strings.Join(short, ", ") + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// String is "threshold met for root v3: ..." or "threshold not met for
// root v3: ...".
func (s *SignatureStatus) String() string {
	met := "met"
	if !s.Met {
		met = "not met"
	}
	return fmt.Sprintf("threshold %s for %s v%d: %s", met, s.Role, s.Version, s.Detail())
}

// Err is nil when the thresholds are met, else an ErrThreshold naming the
// missing keys.
func (s *SignatureStatus) Err() error {
	if s.Met {
		return nil
	}
	return fmt.Errorf("%w for %s v%d: %s", ErrThreshold, s.Role, s.Version, s.Detail())
}

func group(sm *File, name, label string, keysByID map[string]*metadata.Key, role *metadata.Role) KeyGroup {
	g := KeyGroup{Name: name, label: label, Threshold: role.Threshold, KeyIDs: role.KeyIDs, Signed: sm.signedBy(keysByID, role.KeyIDs), Missing: []string{}}
	for _, id := range role.KeyIDs {
		if !slices.Contains(g.Signed, id) {
			g.Missing = append(g.Missing, id)
		}
	}
	if g.Signed == nil {
		g.Signed = []string{}
	}
	return g
}

// CheckSignatures checks staged metadata against the root that governs
// it: for a new root version, prev is the root before it (nil if unknown:
// only its own threshold is then checked); for other roles, prev is the
// current root.
func CheckSignatures(sm *File, prev *metadata.Metadata[metadata.RootType]) *SignatureStatus {
	st := &SignatureStatus{Role: sm.Role, Version: sm.Version()}
	if sm.Role == metadata.ROOT {
		self := sm.Root.Signed.Roles[metadata.ROOT]
		if prev != nil {
			old := prev.Signed.Roles[metadata.ROOT]
			if old != nil && self != nil && SameRole(old, self) && SameKeys(prev.Signed.Keys, sm.Root.Signed.Keys, old.KeyIDs) {
				st.Groups = append(st.Groups, group(sm, fmt.Sprintf("root v%d and v%d", prev.Signed.Version, sm.Version()), "the root keys", sm.Root.Signed.Keys, self))
			} else {
				if old != nil {
					st.Groups = append(st.Groups, group(sm, fmt.Sprintf("root v%d", prev.Signed.Version), "the old root keys", prev.Signed.Keys, old))
				}
				if self != nil {
					st.Groups = append(st.Groups, group(sm, fmt.Sprintf("root v%d", sm.Version()), "the new", sm.Root.Signed.Keys, self))
				}
			}
		} else if self != nil {
			g := group(sm, fmt.Sprintf("root v%d", sm.Version()), "the new root keys (the previous root's are not known here)", sm.Root.Signed.Keys, self)
			st.Groups = append(st.Groups, g)
		}
	} else if prev != nil {
		if role := prev.Signed.Roles[sm.Role]; role != nil {
			st.Groups = append(st.Groups, group(sm, fmt.Sprintf("%s (root v%d)", sm.Role, prev.Signed.Version), "the "+sm.Role+" keys", prev.Signed.Keys, role))
		}
	}
	st.Met = len(st.Groups) > 0
	for _, g := range st.Groups {
		st.Met = st.Met && g.Met()
	}
	return st
}

// SameRole reports whether two roles have the same keys (in any order)
// and threshold.
func SameRole(a, b *metadata.Role) bool {
	x, y := slices.Clone(a.KeyIDs), slices.Clone(b.KeyIDs)
	sort.Strings(x)
	sort.Strings(y)
	return a.Threshold == b.Threshold && slices.Equal(x, y)
}

// SameKeys reports whether both key maps hold the same keys under ids.
func SameKeys(a, b map[string]*metadata.Key, ids []string) bool {
	for _, id := range ids {
		x, err1 := cjson.EncodeCanonical(a[id])
		y, err2 := cjson.EncodeCanonical(b[id])
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}

// Verify runs go-tuf's own threshold checks, the ones clients make,
// on staged metadata that CheckSignatures found sufficient.
func Verify(sm *File, prev *metadata.Metadata[metadata.RootType]) error {
	if sm.Role == metadata.ROOT {
		if err := prev.VerifyDelegate(metadata.ROOT, sm.Root); err != nil {
			return fmt.Errorf("%w for root v%d: the old root keys: %v", ErrThreshold, sm.Version(), err)
		}
		if err := sm.Root.VerifyDelegate(metadata.ROOT, sm.Root); err != nil {
			return fmt.Errorf("%w for root v%d: the new root keys: %v", ErrThreshold, sm.Version(), err)
		}
		return nil
	}
	if err := prev.VerifyDelegate(sm.Role, sm.Metadata()); err != nil {
		return fmt.Errorf("%w for %s v%d: %v", ErrThreshold, sm.Role, sm.Version(), err)
	}
	return nil
}

// EligibleKeys returns the keys that may sign staged metadata, by key ID:
// for a root, its own root keys and those of prev (the root before it,
// when known); for another role, its keys in prev (the current root).
// nil means unknown (another role, and no root at hand).
func EligibleKeys(sm *File, prev *metadata.Metadata[metadata.RootType]) map[string]*metadata.Key {
	out := map[string]*metadata.Key{}
	add := func(r *metadata.Metadata[metadata.RootType], role string) {
		if r == nil || r.Signed.Roles[role] == nil {
			return
		}
		for _, id := range r.Signed.Roles[role].KeyIDs {
			if k := r.Signed.Keys[id]; k != nil {
				out[id] = k
			}
		}
	}
	if sm.Role == metadata.ROOT {
		add(sm.Root, metadata.ROOT)
		add(prev, metadata.ROOT)
		return out
	}
	if prev == nil {
		return nil
	}
	add(prev, sm.Role)
	return out
}

// CleanSignatures keeps only valid signatures by eligible keys, one per
// key: what is published carries nothing else.
func CleanSignatures(sm *File, eligible map[string]*metadata.Key) error {
	payload, err := sm.Payload()
	if err != nil {
		return err
	}
	var out []metadata.Signature
	seen := map[string]bool{}
	for _, sig := range sm.Signatures() {
		k := eligible[sig.KeyID]
		if k == nil || seen[sig.KeyID] || keys.Verify(k, payload, sig.Signature) != nil {
			continue
		}
		seen[sig.KeyID] = true
		out = append(out, sig)
	}
	sm.SetSignatures(out)
	return nil
}

// Describe summarises staged metadata for the holder about to sign it:
// version, expiry and, for a root, every role's keys and threshold.
func Describe(sm *File, prev *metadata.Metadata[metadata.RootType]) []string {
	out := []string{fmt.Sprintf("%s v%d, expires %s", sm.Role, sm.Version(), sm.Expires().UTC().Format(targets.TimeFormat))}
	switch {
	case sm.Root != nil:
		for _, name := range TopLevelRoles {
			role := sm.Root.Signed.Roles[name]
			if role == nil {
				continue
			}
			ids := make([]string, len(role.KeyIDs))
			for i, id := range role.KeyIDs {
				ids[i] = keys.ShortID(id)
			}
			out = append(out, fmt.Sprintf("  %-9s %d of %d keys: %s", name, role.Threshold, len(role.KeyIDs), strings.Join(ids, ", ")))
		}
		if prev != nil {
			if ch := RootChanges(prev, sm.Root); len(ch) > 0 {
				out = append(out, fmt.Sprintf("  changes from root v%d: %s", prev.Signed.Version, strings.Join(ch, "; ")))
			}
		}
	case sm.Targets != nil:
		n := len(sm.Targets.Signed.Targets)
		d := 0
		if sm.Targets.Signed.Delegations != nil {
			d = len(sm.Targets.Signed.Delegations.Roles)
		}
		out = append(out, fmt.Sprintf("  %d targets, %d delegated roles", n, d))
	case sm.Snapshot != nil:
		for _, name := range sortedKeys(sm.Snapshot.Signed.Meta) {
			out = append(out, fmt.Sprintf("  %s v%d", name, sm.Snapshot.Signed.Meta[name].Version))
		}
	case sm.Timestamp != nil:
		if mf := sm.Timestamp.Signed.Meta["snapshot.json"]; mf != nil {
			out = append(out, fmt.Sprintf("  snapshot.json v%d", mf.Version))
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// RootChanges lists what differs between two root versions, per role:
// keys added and removed, threshold changes.
func RootChanges(old, nr *metadata.Metadata[metadata.RootType]) []string {
	var out []string
	for _, name := range TopLevelRoles {
		a, b := old.Signed.Roles[name], nr.Signed.Roles[name]
		if a == nil || b == nil {
			continue
		}
		for _, id := range b.KeyIDs {
			if !slices.Contains(a.KeyIDs, id) {
				out = append(out, fmt.Sprintf("%s: added key %s", name, keys.ShortID(id)))
			}
		}
		for _, id := range a.KeyIDs {
			if !slices.Contains(b.KeyIDs, id) {
				out = append(out, fmt.Sprintf("%s: removed key %s", name, keys.ShortID(id)))
			}
		}
		if a.Threshold != b.Threshold {
			out = append(out, fmt.Sprintf("%s: threshold %d -> %d", name, a.Threshold, b.Threshold))
		}
	}
	return out
}
