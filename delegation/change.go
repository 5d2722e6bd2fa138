package delegation

import (
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"

	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Change is what Apply did to top-level targets' delegations: the
// delegation as it now is, warnings, and the delegated roles whose
// metadata must be signed now with the role's own keys (KeyIDs,
// Threshold). Applying it touches metadata only; the writer signs and
// publishes.
type Change struct {
	Role        string
	Created     bool
	Removed     bool
	Paths       []string
	KeyIDs      []string
	Threshold   int
	Terminating bool
	Bins        int
	NamePrefix  string
	Warnings    []string
	// Sign lists the roles to sign a new version of: for a named role
	// without metadata, its first (empty) version, which waits for its
	// first publication when its keys are not at hand; for new or re-keyed
	// hash bins, every bin, whose keys must be at hand (a bin without
	// metadata would break every lookup that hashes to it).
	Sign []*Role
}

// Apply changes the delegations of top-level targets (t.Top, whose
// Delegations must be non-nil with a key map) as opts say, after checking
// the change against the tree and the names snapshot has ever listed
// (clients refuse a snapshot that drops a role, so a name is never used
// twice).
func (t *Tree) Apply(snapshot *metadata.Metadata[metadata.SnapshotType], opts Options) (*Change, error) {
	if opts.IsBins() {
		return t.applyBins(snapshot, opts)
	}
	return t.applyNamed(snapshot, opts)
}

func (t *Tree) applyNamed(snapshot *metadata.Metadata[metadata.SnapshotType], opts Options) (*Change, error) {
	d := t.Top.Signed.Delegations
	if sr := t.HashBins(); sr != nil {
		return nil, fmt.Errorf("%w: targets delegates to hash bins (%s-*); TUF allows either named roles or hash bins in one delegations object", ErrDelegation, sr.NamePrefix)
	}
	c := &Change{Role: opts.Name}
	idx := slices.IndexFunc(d.Roles, func(dr metadata.DelegatedRole) bool { return dr.Name == opts.Name })
	if opts.Remove {
		if idx < 0 {
			return nil, fmt.Errorf("%w: role %s is not delegated by targets%s", ErrDelegation, opts.Name, t.RolesHint())
		}
		c.Removed = true
		dr := d.Roles[idx]
		c.Paths, c.KeyIDs, c.Threshold, c.Terminating = dr.Paths, dr.KeyIDs, dr.Threshold, dr.Terminating
		d.Roles = slices.Delete(d.Roles, idx, idx+1)
		if n := t.Roles[opts.Name]; n != nil && n.Ref != nil {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s.json stays listed in the snapshot (clients refuse a snapshot that drops a role), so the name %s cannot be used again", opts.Name, opts.Name))
		}
		return c, nil
	}
	if idx < 0 {
		if n := t.Roles[opts.Name]; n != nil {
			return nil, fmt.Errorf("%w: role %s is already delegated by %s", ErrDelegation, opts.Name, n.Parent)
		}
		if mf := snapshot.Signed.Meta[opts.Name+".json"]; mf != nil {
			return nil, fmt.Errorf("%w: the name %s was used before (the snapshot lists %s.json version %d, and clients refuse a snapshot that drops it): choose another name", ErrDelegation, opts.Name, opts.Name, mf.Version)
		}
		if len(opts.Paths) == 0 {
			return nil, fmt.Errorf("%w: a new role needs path patterns (--path or --model)", ErrDelegation)
		}
		if len(opts.Keys) == 0 {
			return nil, fmt.Errorf("%w: a new role needs at least one key (--key)", ErrDelegation)
		}
		d.Roles = append(d.Roles, metadata.DelegatedRole{Name: opts.Name, Threshold: 1})
		idx = len(d.Roles) - 1
		c.Created = true
	}
	dr := &d.Roles[idx]
	before := *dr
	before.KeyIDs = slices.Clone(dr.KeyIDs)
	if opts.Paths != nil {
		dr.Paths = Dedupe(opts.Paths)
		dr.PathHashPrefixes = nil
	}
	if err := ApplyKeys(&dr.KeyIDs, d.Keys, opts); err != nil {
		return nil, err
	}
	if opts.Threshold > 0 {
		dr.Threshold = opts.Threshold
	}
	if opts.Terminating != nil {
		dr.Terminating = *opts.Terminating
	}
	if err := CheckThreshold(opts.Name, dr.Threshold, len(dr.KeyIDs)); err != nil {
		return nil, err
	}
	c.Paths, c.KeyIDs, c.Threshold, c.Terminating = dr.Paths, dr.KeyIDs, dr.Threshold, dr.Terminating

	node := t.Roles[opts.Name]
	switch {
	case node == nil || node.Meta == nil:
		// No metadata yet: its first, empty version is signed now if the
		// role's keys are at hand; otherwise its first publication does.
		if node == nil {
			node = &Role{Name: opts.Name, Parent: metadata.TARGETS, Delegated: dr}
		}
		c.Sign = []*Role{node}
	case !slices.Equal(before.KeyIDs, dr.KeyIDs) || before.Threshold != dr.Threshold:
		if err := t.Top.VerifyDelegate(opts.Name, node.Meta); err != nil {
			c.Warnings = append(c.Warnings, fmt.Sprintf("role %s: its current metadata (%s) is not signed by a threshold of its keys now, so devices refuse the targets it signs until they re-sign it: "+
				"review its targets (mrepo status), then mrepo targets --role %s --after-key-change, with the new keys", opts.Name, node.File, opts.Name))
		}
	}
	return c, nil
}

func (t *Tree) applyBins(snapshot *metadata.Metadata[metadata.SnapshotType], opts Options) (*Change, error) {
	d := t.Top.Signed.Delegations
	if names := t.NamedRoles(); len(names) > 0 {
		return nil, fmt.Errorf("%w: targets delegates to named roles (%s); TUF allows either named roles or hash bins in one delegations object", ErrDelegation, strings.Join(names, ", "))
	}
	c := &Change{NamePrefix: opts.NamePrefix, Terminating: true}
	sr := d.SuccinctRoles
	var before metadata.Role
	if sr == nil {
		if opts.Bins == 0 {
			return nil, fmt.Errorf("%w: new hash bins need their number (--succinct-bins)", ErrDelegation)
		}
		if len(opts.Keys) == 0 {
			return nil, fmt.Errorf("%w: hash bins need at least one key (--key)", ErrDelegation)
		}
		sr = &metadata.SuccinctRoles{BitLength: bits.TrailingZeros(uint(opts.Bins)), NamePrefix: opts.NamePrefix, Threshold: 1}
		for _, name := range sr.GetRoles() {
			if mf := snapshot.Signed.Meta[name+".json"]; mf != nil {
				return nil, fmt.Errorf("%w: the name %s was used before (the snapshot lists it): choose another name prefix", ErrDelegation, name)
			}
		}
		c.Created = true
	} else {
		_, n := sr.GetSuffixLen()
		if opts.NamePrefix != sr.NamePrefix || (opts.Bins != 0 && opts.Bins != n) {
			return nil, fmt.Errorf("%w: targets delegates to %d hash bins named %s-*; changing the number of bins or their names is not supported", ErrDelegation, n, sr.NamePrefix)
		}
		before = metadata.Role{KeyIDs: slices.Clone(sr.KeyIDs), Threshold: sr.Threshold}
		// The bins are re-signed: only what their current keys signed.
		for _, name := range sr.GetRoles() {
			if node := t.Roles[name]; node != nil && node.Meta != nil {
				if err := t.CheckSigned(node); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := ApplyKeys(&sr.KeyIDs, d.Keys, opts); err != nil {
		return nil, err
	}
	if opts.Threshold > 0 {
		sr.Threshold = opts.Threshold
	}
	if err := CheckThreshold(opts.NamePrefix+"-*", sr.Threshold, len(sr.KeyIDs)); err != nil {
		return nil, err
	}
	d.SuccinctRoles, d.Roles = sr, nil
	_, n := sr.GetSuffixLen()
	c.Bins, c.KeyIDs, c.Threshold = n, sr.KeyIDs, sr.Threshold
	if !c.Created && slices.Equal(before.KeyIDs, sr.KeyIDs) && before.Threshold == sr.Threshold {
		return c, nil
	}
	// New bins, or new keys: every bin is signed now, by the bins' keys.
	for _, name := range sr.GetRoles() {
		node := t.Roles[name]
		if node == nil {
			node = &Role{Name: name, Parent: metadata.TARGETS, Bins: sr}
		}
		c.Sign = append(c.Sign, node)
	}
	return c, nil
}

// CheckSigned fails (with repofiles.ErrStoredMetadata) unless a delegated
// role's current metadata is signed by a threshold of the keys its
// delegation names now: mrepo never re-signs (and so launders) what the
// role's keys did not sign.
// A trimmed role (Role.Trimmed) is not what was signed: checking it is
// an error (ErrDelegation), so that nothing re-signs it.
func (t *Tree) CheckSigned(n *Role) error {
	if n.Trimmed() {
		return fmt.Errorf("%w: %s was read for the targets under %s only: it cannot be checked or re-signed", ErrDelegation, n.File, n.only)
	}
	parent := t.Meta(n.Parent)
	if parent == nil || parent.Signed.Delegations == nil {
		return repofiles.StoredError(n.File, fmt.Errorf("its delegator %s has no metadata", n.Parent))
	}
	if err := pubkey.CheckAll(parent.Signed.Delegations.Keys); err != nil {
		return repofiles.StoredError(n.Parent, err)
	}
	if err := parent.VerifyDelegate(n.Name, n.Meta); err != nil {
		role := n.Name
		if n.Bins != nil {
			role = n.Bins.NamePrefix
		}
		return fmt.Errorf("%w: %s: %v (if the role's keys were replaced on purpose, review its targets, then have its new keys re-sign it: mrepo targets --role %s --after-key-change)",
			repofiles.ErrStoredMetadata, n.File, err, role)
	}
	return nil
}

// CheckAllSigned checks (CheckSigned) every role read that has
// metadata: a writer builds on what every role it read lists (the
// version checks, a new version index, the other versions' controls),
// not only on the roles it re-signs. A trimmed role was checked as it
// was read (LoadForModel).
func (t *Tree) CheckAllSigned() error {
	for _, name := range t.Order {
		if n := t.Roles[name]; n.Meta != nil && !n.Trimmed() {
			if err := t.CheckSigned(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckResign checks, before nodes are re-signed as they are, that each
// one's current metadata is signed by its keys (CheckSigned).
// afterKeyChange accepts metadata its keys no longer sign, after a
// deliberate key change (the bytes are still those the signed snapshot
// records), with a warning naming it.
func (t *Tree) CheckResign(nodes []*Role, afterKeyChange bool) (warnings []string, err error) {
	for _, n := range nodes {
		if n.Meta == nil {
			continue
		}
		if err := t.CheckSigned(n); err != nil {
			if !afterKeyChange || !errors.Is(err, repofiles.ErrStoredMetadata) {
				return nil, err
			}
			warnings = append(warnings, fmt.Sprintf("%s was not signed by a threshold of the role's current keys; re-signed as published (after a key change)", n.File))
		}
	}
	return warnings, nil
}

// ShadowWarnings names the roles that list targets they are delegated but
// that clients do not find there: an earlier delegation is terminating
// for them, or an earlier role lists the same path.
func (t *Tree) ShadowWarnings() []string {
	var out []string
	for _, name := range t.Order {
		n := t.Roles[name]
		if n.Meta == nil {
			continue
		}
		if n.Trimmed() {
			out = append(out, fmt.Sprintf("role %s was read for the targets under %s only: its other targets were not checked for shadowing", name, n.only))
		}
		var lost []string
		for _, p := range slices.Sorted(maps.Keys(n.Meta.Signed.Targets)) {
			if res := t.Resolve(p); n.Delegates(p) && res.Role != name && res.Blocked == "" {
				lost = append(lost, p)
			}
		}
		if len(lost) > 0 {
			out = append(out, fmt.Sprintf("role %s lists %d target(s) that devices do not find there, for example %s: an earlier delegation is terminating for them, or an earlier role lists the same path", name, len(lost), lost[0]))
		}
	}
	return out
}

// RolesHint ends a message about a role that top-level targets does not
// delegate: the roles it does delegate, or how to delegate one.
func (t *Tree) RolesHint() string {
	if names := t.NamedRoles(); len(names) > 0 {
		return " (delegated roles: " + strings.Join(names, ", ") + ")"
	}
	return " (it delegates to no role; see mrepo delegate)"
}

// CheckRolePaths refuses target paths that role n may not sign, or that
// clients looking them up would never find in it (a role without metadata
// or a terminating delegation on the way).
func (t *Tree) CheckRolePaths(n *Role, paths []string) error {
	for _, p := range paths {
		if !n.Delegates(p) {
			return fmt.Errorf("%w: role %s may sign only %s; %s is not among them", ErrOutsideDelegation, n.Name, strings.Join(n.Delegated.Paths, ", "), p)
		}
		res := t.Resolve(p)
		switch {
		case res.Blocked != "" && res.Blocked != n.Name:
			return fmt.Errorf("%w: devices looking up %s stop at role %s, which has no metadata yet", ErrOutsideDelegation, p, res.Blocked)
		case !slices.Contains(res.Visited, n.Name):
			return fmt.Errorf("%w: devices looking up %s never reach role %s (the lookup ends at %s: an earlier delegation for it is terminating)", ErrOutsideDelegation, p, n.Name, res.Visited[len(res.Visited)-1])
		}
	}
	return nil
}

// BinsFor returns the hash bins that target paths go to, each once, in
// the order of the paths. Every bin has metadata (mrepo delegate writes
// them all): one without is a damaged repository. A trimmed bin
// (Role.Trimmed) is an error.
func (t *Tree) BinsFor(bins *metadata.SuccinctRoles, paths []string) ([]*Role, error) {
	var out []*Role
	seen := map[string]bool{}
	for _, p := range paths {
		name := bins.GetRolesForTarget(p)[0].Name
		n := t.Roles[name]
		if n == nil || n.Meta == nil {
			return nil, repofiles.StoredError(name+".json", fmt.Errorf("hash bin %s has no metadata", name))
		}
		if n.Trimmed() { // never re-signed without the other models' targets
			return nil, fmt.Errorf("%w: hash bin %s was read for the targets under %s only: read it whole (AddBins) first", ErrDelegation, name, n.only)
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// CheckTopLevelPaths refuses target paths that top-level targets delegates
// to a named role: signed by targets, they would shadow the role's
// versions (a client looks in targets first).
func (t *Tree) CheckTopLevelPaths(paths []string) error {
	for _, p := range paths {
		for _, name := range t.Order {
			if n := t.Roles[name]; n.Parent == metadata.TARGETS && n.Delegated != nil && n.Delegates(p) {
				return fmt.Errorf("%w: %s is delegated to role %s: publish it with --role %s", ErrDelegation, p, name, name)
			}
		}
	}
	return nil
}

// RolesNamed returns the delegated role called name, or every hash bin
// when name is the bins' name prefix (ErrDelegation: neither).
func (t *Tree) RolesNamed(name string) ([]*Role, error) {
	var nodes []*Role
	if sr := t.HashBins(); sr != nil && name == sr.NamePrefix {
		for _, b := range sr.GetRoles() {
			if n := t.Roles[b]; n != nil {
				nodes = append(nodes, n)
			}
		}
	} else if n := t.Roles[name]; n != nil {
		nodes = append(nodes, n)
	}
	if len(nodes) == 0 {
		hint := t.RolesHint()
		if sr := t.HashBins(); sr != nil {
			hint = fmt.Sprintf(" (hash bins: --role %s re-signs them all)", sr.NamePrefix)
		}
		return nil, fmt.Errorf("%w: %s is not a delegated role%s", ErrDelegation, name, hint)
	}
	return nodes, nil
}
