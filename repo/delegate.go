package repo

import (
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// DelegateResult reports what Delegate did.
type DelegateResult struct {
	Role        string   `json:"role,omitempty"`
	Created     bool     `json:"created"`
	Removed     bool     `json:"removed,omitempty"`
	Paths       []string `json:"paths,omitempty"`
	KeyIDs      []string `json:"keyids"`
	Threshold   int      `json:"threshold"`
	Terminating bool     `json:"terminating"`
	Bins        int      `json:"bins,omitempty"`
	NamePrefix  string   `json:"name_prefix,omitempty"`
	// RoleVersions lists the delegated roles' metadata this call signed:
	// the first (empty) version of a new role whose keys were at hand, and
	// every bin of new or re-keyed hash bins.
	RoleVersions map[string]int64 `json:"role_versions,omitempty"`
	// Pending reports a role without metadata yet: its keys were not at
	// hand, so its first version comes with its first publication.
	Pending  bool     `json:"pending,omitempty"`
	Versions Versions `json:"metadata_versions"`
	Warnings []string `json:"warnings,omitempty"`
}

// roleWrite is a delegated role's metadata to sign and write.
type roleWrite struct {
	node *delegation.Role
	md   *metadata.Metadata[metadata.TargetsType]
	ss   []keySigner
}

// loadTree reads the delegation tree of st.
func (r *Repository) loadTree(st *state) (*delegation.Tree, error) {
	return delegation.LoadTree(r.fs, r.dir, st.targets, st.snapshot)
}

// viewOf is st with the top-level targets replaced by the effective
// targets of the whole tree (delegation.Tree.View), read-only.
func viewOf(tree *delegation.Tree, st *state) *state {
	if len(tree.Roles) == 0 {
		return st
	}
	v := *st
	v.targets = tree.View()
	return &v
}

// Delegate adds, updates or removes a delegated targets role in top-level
// targets, or creates (or re-keys) succinct hash bins, and publishes new
// targets, snapshot and timestamp metadata, signed with keys from kr (the
// targets key, not the delegated role's).
//
// A new role's first metadata (empty) is written in the same publication
// when kr holds enough of the role's own keys; otherwise the role is
// pending until its first add-target --role (or ResignRole), and clients
// cannot resolve the paths delegated to it until then. Hash bins need
// their keys at once: every bin's first version is written with the
// delegation.
func (r *Repository) Delegate(kr keys.Keyring, opts delegation.Options) (*DelegateResult, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var res *DelegateResult
	v, err := r.update(r.load, func(t *tx) (err error) {
		res, err = r.delegate(t, kr, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Versions = *v
	return res, nil
}

// delegate changes the delegations as opts say and declares the writes.
func (r *Repository) delegate(t *tx, kr keys.Keyring, opts delegation.Options) (*DelegateResult, error) {
	st := t.st
	tree, err := r.loadTree(st)
	if err != nil {
		return nil, err
	}
	top := &st.targets.Signed
	if top.Delegations == nil {
		top.Delegations = &metadata.Delegations{}
	}
	if top.Delegations.Keys == nil {
		top.Delegations.Keys = map[string]*metadata.Key{} // go-tuf panics on a nil map
	}
	if err := checkKeys(top.Delegations.Keys); err != nil {
		return nil, storedErr(metadata.TARGETS, err)
	}
	// The online keys first: without them nothing happens, and no team
	// passphrase is asked for in vain.
	ss, err := gatherSigners(st, kr, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
	if err != nil {
		return nil, err
	}
	var res *DelegateResult
	var writes []roleWrite
	if opts.IsBins() {
		res, writes, err = r.delegateBins(st, tree, kr, opts)
	} else {
		res, writes, err = r.delegateNamed(st, tree, kr, opts)
	}
	if err != nil {
		return nil, err
	}
	delegation.PruneKeys(top.Delegations)
	if len(top.Delegations.Roles) == 0 && top.Delegations.SuccinctRoles == nil && len(top.Delegations.UnrecognizedFields) == 0 {
		top.Delegations = nil
	}
	if !opts.IsBins() {
		after, err := r.loadTree(st) // the new delegations, read afresh
		if err != nil {
			return nil, err
		}
		res.Warnings = append(res.Warnings, shadowWarnings(after)...)
	}

	for _, w := range writes {
		if res.RoleVersions == nil {
			res.RoleVersions = map[string]int64{}
		}
		res.RoleVersions[w.node.Name] = t.writeRole(w.node, w.md, w.ss)
	}
	t.publish(ss, metadata.TARGETS)
	return res, nil
}

func (r *Repository) delegateNamed(st *state, tree *delegation.Tree, kr keys.Keyring, opts delegation.Options) (*DelegateResult, []roleWrite, error) {
	d := st.targets.Signed.Delegations
	if sr := tree.HashBins(); sr != nil {
		return nil, nil, fmt.Errorf("%w: targets delegates to hash bins (%s-*); TUF allows either named roles or hash bins in one delegations object", delegation.ErrDelegation, sr.NamePrefix)
	}
	res := &DelegateResult{Role: opts.Name}
	idx := slices.IndexFunc(d.Roles, func(dr metadata.DelegatedRole) bool { return dr.Name == opts.Name })
	if opts.Remove {
		if idx < 0 {
			return nil, nil, fmt.Errorf("%w: role %s is not delegated by targets%s", delegation.ErrDelegation, opts.Name, rolesHint(tree))
		}
		res.Removed = true
		dr := d.Roles[idx]
		res.Paths, res.KeyIDs, res.Threshold, res.Terminating = dr.Paths, dr.KeyIDs, dr.Threshold, dr.Terminating
		d.Roles = slices.Delete(d.Roles, idx, idx+1)
		if n := tree.Roles[opts.Name]; n != nil && n.Ref != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s.json stays listed in the snapshot (clients refuse a snapshot that drops a role), so the name %s cannot be used again", opts.Name, opts.Name))
		}
		return res, nil, nil
	}
	if idx < 0 {
		if n := tree.Roles[opts.Name]; n != nil {
			return nil, nil, fmt.Errorf("%w: role %s is already delegated by %s", delegation.ErrDelegation, opts.Name, n.Parent)
		}
		if mf := st.snapshot.Signed.Meta[opts.Name+".json"]; mf != nil {
			return nil, nil, fmt.Errorf("%w: the name %s was used before (the snapshot lists %s.json version %d, and clients refuse a snapshot that drops it): choose another name", delegation.ErrDelegation, opts.Name, opts.Name, mf.Version)
		}
		if len(opts.Paths) == 0 {
			return nil, nil, fmt.Errorf("%w: a new role needs path patterns (--path or --model)", delegation.ErrDelegation)
		}
		if len(opts.Keys) == 0 {
			return nil, nil, fmt.Errorf("%w: a new role needs at least one key (--key)", delegation.ErrDelegation)
		}
		d.Roles = append(d.Roles, metadata.DelegatedRole{Name: opts.Name, Threshold: 1})
		idx = len(d.Roles) - 1
		res.Created = true
	}
	dr := &d.Roles[idx]
	before := *dr
	before.KeyIDs = slices.Clone(dr.KeyIDs)
	if opts.Paths != nil {
		dr.Paths = delegation.Dedupe(opts.Paths)
		dr.PathHashPrefixes = nil
	}
	if err := delegation.ApplyKeys(&dr.KeyIDs, d.Keys, opts); err != nil {
		return nil, nil, err
	}
	if opts.Threshold > 0 {
		dr.Threshold = opts.Threshold
	}
	if opts.Terminating != nil {
		dr.Terminating = *opts.Terminating
	}
	if err := delegation.CheckThreshold(opts.Name, dr.Threshold, len(dr.KeyIDs)); err != nil {
		return nil, nil, err
	}
	res.Paths, res.KeyIDs, res.Threshold, res.Terminating = dr.Paths, dr.KeyIDs, dr.Threshold, dr.Terminating

	var writes []roleWrite
	node := tree.Roles[opts.Name]
	switch {
	case node == nil || node.Meta == nil:
		// No metadata yet: sign the first, empty version now if the role's
		// keys are at hand; otherwise its first publication does.
		if node == nil {
			node = &delegation.Role{Name: opts.Name, Parent: metadata.TARGETS, Delegated: dr}
		}
		rs, err := signers(kr, opts.Name, &metadata.Role{KeyIDs: dr.KeyIDs, Threshold: dr.Threshold})
		switch {
		case errors.Is(err, ErrThreshold):
			res.Pending = true
			res.Warnings = append(res.Warnings, fmt.Sprintf("role %s has no metadata yet (its keys are not in the key directory): devices cannot resolve the paths delegated to it until it is signed: "+
				"mrepo add-target --role %s (its first model) or mrepo targets --role %s, with its keys", opts.Name, opts.Name, opts.Name))
		case err != nil:
			return nil, nil, err
		default:
			writes = append(writes, roleWrite{node: node, md: metadata.Targets(), ss: rs})
		}
	case !slices.Equal(before.KeyIDs, dr.KeyIDs) || before.Threshold != dr.Threshold:
		if err := st.targets.VerifyDelegate(opts.Name, node.Meta); err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("role %s: its current metadata (%s) is not signed by a threshold of its keys now, so devices refuse the targets it signs until they re-sign it: "+
				"review its targets (mrepo status), then mrepo targets --role %s --after-key-change, with the new keys", opts.Name, node.File, opts.Name))
		}
	}
	return res, writes, nil
}

func (r *Repository) delegateBins(st *state, tree *delegation.Tree, kr keys.Keyring, opts delegation.Options) (*DelegateResult, []roleWrite, error) {
	d := st.targets.Signed.Delegations
	if names := tree.NamedRoles(); len(names) > 0 {
		return nil, nil, fmt.Errorf("%w: targets delegates to named roles (%s); TUF allows either named roles or hash bins in one delegations object", delegation.ErrDelegation, strings.Join(names, ", "))
	}
	res := &DelegateResult{NamePrefix: opts.NamePrefix, Terminating: true}
	sr := d.SuccinctRoles
	var before metadata.Role
	if sr == nil {
		if opts.Bins == 0 {
			return nil, nil, fmt.Errorf("%w: new hash bins need their number (--succinct-bins)", delegation.ErrDelegation)
		}
		if len(opts.Keys) == 0 {
			return nil, nil, fmt.Errorf("%w: hash bins need at least one key (--key)", delegation.ErrDelegation)
		}
		sr = &metadata.SuccinctRoles{BitLength: bits.TrailingZeros(uint(opts.Bins)), NamePrefix: opts.NamePrefix, Threshold: 1}
		for _, name := range sr.GetRoles() {
			if mf := st.snapshot.Signed.Meta[name+".json"]; mf != nil {
				return nil, nil, fmt.Errorf("%w: the name %s was used before (the snapshot lists it): choose another name prefix", delegation.ErrDelegation, name)
			}
		}
		res.Created = true
	} else {
		_, n := sr.GetSuffixLen()
		if opts.NamePrefix != sr.NamePrefix || (opts.Bins != 0 && opts.Bins != n) {
			return nil, nil, fmt.Errorf("%w: targets delegates to %d hash bins named %s-*; changing the number of bins or their names is not supported", delegation.ErrDelegation, n, sr.NamePrefix)
		}
		before = metadata.Role{KeyIDs: slices.Clone(sr.KeyIDs), Threshold: sr.Threshold}
		// The bins are re-signed below: only what their current keys signed.
		for _, name := range sr.GetRoles() {
			if node := tree.Roles[name]; node != nil && node.Meta != nil {
				if err := r.checkRoleSigned(tree, node); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	if err := delegation.ApplyKeys(&sr.KeyIDs, d.Keys, opts); err != nil {
		return nil, nil, err
	}
	if opts.Threshold > 0 {
		sr.Threshold = opts.Threshold
	}
	if err := delegation.CheckThreshold(opts.NamePrefix+"-*", sr.Threshold, len(sr.KeyIDs)); err != nil {
		return nil, nil, err
	}
	d.SuccinctRoles, d.Roles = sr, nil
	_, n := sr.GetSuffixLen()
	res.Bins, res.KeyIDs, res.Threshold = n, sr.KeyIDs, sr.Threshold
	if !res.Created && slices.Equal(before.KeyIDs, sr.KeyIDs) && before.Threshold == sr.Threshold {
		return res, nil, nil
	}
	// New bins, or new keys: every bin is signed now, by the bins' keys,
	// which must therefore be at hand (a bin without metadata would break
	// every lookup that hashes to it).
	rs, err := signers(kr, opts.NamePrefix+"-*", &metadata.Role{KeyIDs: sr.KeyIDs, Threshold: sr.Threshold})
	if err != nil {
		return nil, nil, err
	}
	var writes []roleWrite
	for _, name := range sr.GetRoles() {
		node := tree.Roles[name]
		if node == nil {
			node = &delegation.Role{Name: name, Parent: metadata.TARGETS, Bins: sr}
		}
		md := node.Meta
		if md == nil {
			md = metadata.Targets()
		}
		writes = append(writes, roleWrite{node: node, md: md, ss: rs})
	}
	return res, writes, nil
}

// shadowWarnings names the roles that list targets they are delegated but
// that clients no longer find there: an earlier delegation is terminating
// for them, or an earlier role lists the same path.
func shadowWarnings(t *delegation.Tree) []string {
	var out []string
	for _, name := range t.Order {
		n := t.Roles[name]
		if n.Meta == nil {
			continue
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

func rolesHint(tree *delegation.Tree) string {
	if names := tree.NamedRoles(); len(names) > 0 {
		return " (delegated roles: " + strings.Join(names, ", ") + ")"
	}
	return " (it delegates to no role; see mrepo delegate)"
}

// checkRoleSigned fails unless a delegated role's current metadata is
// signed by a threshold of the keys its delegation names now: mrepo never
// re-signs (and so launders) what the role's keys did not sign.
func (r *Repository) checkRoleSigned(tree *delegation.Tree, n *delegation.Role) error {
	parent := tree.Meta(n.Parent)
	if parent == nil || parent.Signed.Delegations == nil {
		return storedErr(n.File, fmt.Errorf("its delegator %s has no metadata", n.Parent))
	}
	if err := checkKeys(parent.Signed.Delegations.Keys); err != nil {
		return storedErr(n.Parent, err)
	}
	if err := parent.VerifyDelegate(n.Name, n.Meta); err != nil {
		role := n.Name
		if n.Bins != nil {
			role = n.Bins.NamePrefix
		}
		return fmt.Errorf("%w: %s: %v (if the role's keys were replaced on purpose, review its targets, then have its new keys re-sign it: mrepo targets --role %s --after-key-change)",
			ErrStoredMetadata, n.File, err, role)
	}
	return nil
}

// ResignOptions tune ResignRole.
type ResignOptions struct {
	// AfterKeyChange accepts current role metadata that its keys no longer
	// sign (after Delegate replaced them): the bytes must still be those
	// the signed snapshot records. Review the role's targets first.
	AfterKeyChange bool
}

// ResignResult reports the delegated roles ResignRole signed.
type ResignResult struct {
	Roles    map[string]int64 `json:"roles"`
	Versions Versions         `json:"metadata_versions"`
	Warnings []string         `json:"warnings,omitempty"`
}

// ResignRole signs a new version of a delegated role, with the same
// targets and a fresh expiry, with the role's own keys from kr, then a new
// snapshot and timestamp (the targets key is not needed). A role without
// metadata yet gets its first, empty version. name may also be the name
// prefix of hash bins, which re-signs every bin.
func (r *Repository) ResignRole(name string, kr keys.Keyring, opts ResignOptions) (*ResignResult, error) {
	res := &ResignResult{Roles: map[string]int64{}}
	v, err := r.update(r.load, func(t *tx) error { return r.resignRole(t, name, kr, opts, res) })
	if err != nil {
		return nil, err
	}
	res.Versions = *v
	return res, nil
}

func (r *Repository) resignRole(t *tx, name string, kr keys.Keyring, opts ResignOptions, res *ResignResult) error {
	st := t.st
	tree, err := r.loadTree(st)
	if err != nil {
		return err
	}
	var nodes []*delegation.Role
	if sr := tree.HashBins(); sr != nil && name == sr.NamePrefix {
		for _, b := range sr.GetRoles() {
			if n := tree.Roles[b]; n != nil {
				nodes = append(nodes, n)
			}
		}
	} else if n := tree.Roles[name]; n != nil {
		nodes = append(nodes, n)
	}
	if len(nodes) == 0 {
		hint := rolesHint(tree)
		if sr := tree.HashBins(); sr != nil {
			hint = fmt.Sprintf(" (hash bins: --role %s re-signs them all)", sr.NamePrefix)
		}
		return fmt.Errorf("%w: %s is not a delegated role%s", delegation.ErrDelegation, name, hint)
	}
	for _, n := range nodes {
		if n.Meta == nil {
			continue
		}
		if err := r.checkRoleSigned(tree, n); err != nil {
			if !opts.AfterKeyChange || !errors.Is(err, ErrStoredMetadata) {
				return err
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s was not signed by a threshold of the role's current keys; re-signed as published (after a key change)", n.File))
		}
	}
	rs, err := signers(kr, name, nodes[0].Keys())
	if err != nil {
		return err
	}
	ss, err := gatherSigners(st, kr, metadata.SNAPSHOT, metadata.TIMESTAMP)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		md := n.Meta
		if md == nil {
			md = metadata.Targets()
		}
		res.Roles[n.Name] = t.writeRole(n, md, rs)
	}
	t.publish(ss, metadata.SNAPSHOT)
	return nil
}
