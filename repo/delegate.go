package repo

import (
	"errors"
	"fmt"

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
	c, err := tree.Apply(st.snapshot, opts)
	if err != nil {
		return nil, err
	}
	res := &DelegateResult{Role: c.Role, Created: c.Created, Removed: c.Removed, Paths: c.Paths, KeyIDs: c.KeyIDs, Threshold: c.Threshold,
		Terminating: c.Terminating, Bins: c.Bins, NamePrefix: c.NamePrefix, Warnings: c.Warnings}
	writes, err := changeWrites(c, kr, opts, res)
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
		res.Warnings = append(res.Warnings, after.ShadowWarnings()...)
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

// changeWrites signs the roles a delegation change needs signed with
// their own keys from kr: a named role's first version when its keys are
// at hand (otherwise it is pending), every bin of new or re-keyed hash
// bins (their keys must be at hand).
func changeWrites(c *delegation.Change, kr keys.Keyring, opts delegation.Options, res *DelegateResult) ([]roleWrite, error) {
	if len(c.Sign) == 0 {
		return nil, nil
	}
	name := opts.Name
	if opts.IsBins() {
		name = opts.NamePrefix + "-*"
	}
	rs, err := signers(kr, name, &metadata.Role{KeyIDs: c.KeyIDs, Threshold: c.Threshold})
	switch {
	case !opts.IsBins() && errors.Is(err, ErrThreshold):
		res.Pending = true
		res.Warnings = append(res.Warnings, fmt.Sprintf("role %s has no metadata yet (its keys are not in the key directory): devices cannot resolve the paths delegated to it until it is signed: "+
			"mrepo add-target --role %s (its first model) or mrepo targets --role %s, with its keys", opts.Name, opts.Name, opts.Name))
		return nil, nil
	case err != nil:
		return nil, err
	}
	var writes []roleWrite
	for _, n := range c.Sign {
		md := n.Meta
		if md == nil {
			md = metadata.Targets()
		}
		writes = append(writes, roleWrite{node: n, md: md, ss: rs})
	}
	return writes, nil
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
	tree, err := delegation.LoadRole(r.fs, r.dir, st.targets, st.snapshot, name) // one bin alone, or the whole tree
	if err != nil {
		return err
	}
	nodes, err := tree.RolesNamed(name)
	if err != nil {
		return err
	}
	ws, err := tree.CheckResign(nodes, opts.AfterKeyChange)
	if err != nil {
		return err
	}
	res.Warnings = append(res.Warnings, ws...)
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
