package audit

import (
	"fmt"

	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// verifiedRole is a targets role that passed (or failed) its checks,
// with the delegation that governs which paths it may sign for.
type verifiedRole struct {
	name       string
	md         *metadata.Metadata[metadata.TargetsType]
	delegation *metadata.DelegatedRole // nil for top-level targets
	bins       *metadata.SuccinctRoles // set for a hash bin (delegate_verify.go)
	// parent is the delegating role's metadata (nil for top-level
	// targets, which root delegates): what the baseline's version of the
	// role must be signed under (since.go).
	parent *metadata.Metadata[metadata.TargetsType]
	// fresh are the targets an incremental verify checks (baseline.fresh;
	// nil: all).
	fresh map[string]bool
}

// verifyTargetsTree verifies top-level targets and every delegated role
// reachable from it (ordered, depth first, each once).
func (v *verifier) verifyTargetsTree(root *metadata.Metadata[metadata.RootType], snap *metadata.Metadata[metadata.SnapshotType]) []verifiedRole {
	var out []verifiedRole
	load := func(name string) *metadata.Metadata[metadata.TargetsType] {
		mf := snap.Signed.Meta[name+".json"]
		if mf == nil {
			v.problem(MetadataMissing, name, "", "snapshot has no entry for %s.json%s", name, pendingHint(name))
			return nil
		}
		data := v.loadVersioned(root, name, mf)
		if data == nil {
			return nil
		}
		md, err := metadata.Targets().FromBytes(data)
		if err != nil {
			v.problem(MetadataInvalid, name, "", "%v", err)
			return nil
		}
		if md.Signed.Version != mf.Version {
			v.problem(VersionMismatch, name, "", "version %d, snapshot says %d", md.Signed.Version, mf.Version)
		}
		v.checkExpiry(name, md.Signed.Version, md.Signed.Expires)
		return md
	}
	top := load(metadata.TARGETS)
	if top == nil {
		return nil
	}
	role := root.Signed.Roles[metadata.TARGETS]
	if role == nil {
		v.problem(MetadataInvalid, metadata.ROOT, "", "root defines no targets role")
		return nil
	}
	v.checkSignatures(root, metadata.TARGETS, root.Signed.Keys, role.KeyIDs, role.Threshold, top, top.Signed, top.Signatures)
	out = append(out, verifiedRole{name: metadata.TARGETS, md: top})

	type edge struct {
		parent *metadata.Metadata[metadata.TargetsType]
		role   metadata.DelegatedRole
		bins   *metadata.SuccinctRoles
	}
	var stack []edge
	push := func(parent *metadata.Metadata[metadata.TargetsType]) {
		d := parent.Signed.Delegations
		if d == nil {
			return
		}
		var edges []edge
		for _, r := range d.Roles {
			edges = append(edges, edge{parent, r, nil})
		}
		if d.SuccinctRoles != nil {
			for _, name := range d.SuccinctRoles.GetRoles() {
				edges = append(edges, edge{parent, metadata.DelegatedRole{Name: name, KeyIDs: d.SuccinctRoles.KeyIDs, Threshold: d.SuccinctRoles.Threshold}, d.SuccinctRoles})
			}
		}
		for i := len(edges) - 1; i >= 0; i-- { // first delegation on top
			stack = append(stack, edges[i])
		}
	}
	push(top)
	seen := map[string]bool{metadata.TARGETS: true}
	for len(stack) > 0 && len(seen) < 10000 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[e.role.Name] {
			continue
		}
		seen[e.role.Name] = true
		if mf := snap.Signed.Meta[e.role.Name+".json"]; mf != nil && v.base.unchanged(e.role.Name, mf.Version) {
			v.rep.RolesSkipped++ // nor what it delegates (since.go)
			continue
		}
		md := load(e.role.Name)
		if md == nil {
			continue
		}
		if err := pubkey.CheckAll(e.parent.Signed.Delegations.Keys); err != nil {
			v.problem(MetadataInvalid, e.role.Name, "", "delegation with an unusable %v", err)
			continue
		}
		v.checkSignatures(e.parent, e.role.Name, e.parent.Signed.Delegations.Keys, e.role.KeyIDs, e.role.Threshold, md, md.Signed, md.Signatures)
		r := e.role
		out = append(out, verifiedRole{name: e.role.Name, md: md, delegation: &r, bins: e.bins, parent: e.parent})
		push(md)
	}
	return out
}

// outside reports whether a role lists a target path it is not delegated,
// so that clients never resolve it there: a path outside a named role's
// patterns, or a path that hashes to another bin than the hash bin that
// lists it. (Classic path_hash_prefixes delegations are not checked: go-tuf
// v2.4.2 matches them against the base64 form of the hash, and its client,
// which Verify runs last, reports what it cannot find.)
func (r verifiedRole) outside(p string) bool {
	switch {
	case r.bins != nil:
		rs := r.bins.GetRolesForTarget(p)
		return len(rs) != 1 || rs[0].Name != r.name
	case r.delegation != nil && r.delegation.Paths != nil:
		ok, _ := r.delegation.IsDelegatedPath(p)
		return !ok
	}
	return false
}

// pendingHint explains a delegated role missing from the snapshot.
func pendingHint(name string) string {
	if name == metadata.TARGETS {
		return ""
	}
	return fmt.Sprintf(": the role has no published metadata, so clients cannot resolve the paths delegated to it (sign it: mrepo add-target --role %s, or mrepo targets --role %s)", name, name)
}
