package repo

import (
	"fmt"
	"net/url"
	"slices"
	"sort"

	"github.com/edgetuf/edgetuf/staged"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// maxTreeRoles bounds how many delegated roles mrepo reads from a
// repository (hash bins count one each; mrepo writes at most 1024 bins).
const maxTreeRoles = 1 << 14

// maxDelegations is how many roles one lookup may visit before it gives up,
// go-tuf's default (config.MaxDelegations): resolution on the repository
// side must find exactly what a client finds.
const maxDelegations = 32

// roleNode is one delegated targets role as stored: how it is delegated and
// its current metadata, if it has any yet.
type roleNode struct {
	name   string
	parent string                  // the delegating role
	deleg  *metadata.DelegatedRole // a named role (nil for a hash bin)
	bins   *metadata.SuccinctRoles // the succinct delegation of a hash bin
	// ref is the role's entry in the snapshot (nil: never published); md its
	// metadata (nil when ref is nil) and file the name it was read from.
	ref  *metadata.MetaFiles
	md   *metadata.Metadata[metadata.TargetsType]
	file string
}

// role returns the threshold and keys a role's metadata must be signed with.
func (n *roleNode) role() *metadata.Role {
	if n.bins != nil {
		return &metadata.Role{KeyIDs: n.bins.KeyIDs, Threshold: n.bins.Threshold}
	}
	return &metadata.Role{KeyIDs: n.deleg.KeyIDs, Threshold: n.deleg.Threshold}
}

// delegates reports whether the role is trusted for target path p.
func (n *roleNode) delegates(p string) bool {
	if n.bins != nil {
		rs := n.bins.GetRolesForTarget(p)
		return len(rs) == 1 && rs[0].Name == n.name
	}
	ok, _ := n.deleg.IsDelegatedPath(p)
	return ok
}

// delegTree is the targets delegation tree of the current state: top-level
// targets and every delegated role reachable from it.
type delegTree struct {
	top   *metadata.Metadata[metadata.TargetsType]
	nodes map[string]*roleNode
	order []string // pre-order, depth first, each role once
}

// roleFile is the consistent-snapshot name of a delegated role's metadata.
func roleFile(name string, version int64) string {
	return fmt.Sprintf("%d.%s.json", version, url.PathEscape(name))
}

// loadTree reads every delegated role reachable from the top-level targets
// of st, each checked against the length and hash the snapshot records
// for it. Signatures are not checked here: a writer checks those of the
// role it builds on (checkRoleSigned), and status reports them.
func (r *Repository) loadTree(st *state) (*delegTree, error) {
	t := &delegTree{top: st.targets, nodes: map[string]*roleNode{}}
	var visit func(parent string, md *metadata.Metadata[metadata.TargetsType]) error
	visit = func(parent string, md *metadata.Metadata[metadata.TargetsType]) error {
		d := md.Signed.Delegations
		if d == nil {
			return nil
		}
		var kids []*roleNode
		for i := range d.Roles {
			kids = append(kids, &roleNode{name: d.Roles[i].Name, parent: parent, deleg: &d.Roles[i]})
		}
		if d.Roles == nil && d.SuccinctRoles != nil {
			for _, name := range d.SuccinctRoles.GetRoles() {
				kids = append(kids, &roleNode{name: name, parent: parent, bins: d.SuccinctRoles})
			}
		}
		for _, n := range kids {
			if t.nodes[n.name] != nil || slices.Contains(staged.TopLevelRoles, n.name) {
				continue // delegated twice (or a cycle): the first delegation counts
			}
			if len(t.nodes) >= maxTreeRoles {
				return storedErr(parent, fmt.Errorf("more than %d delegated roles", maxTreeRoles))
			}
			if n.ref = st.snapshot.Signed.Meta[n.name+".json"]; n.ref != nil {
				n.file = roleFile(n.name, n.ref.Version)
				m, err := readMetaAs(r.fs, r.metaPath(n.file), metadata.Targets(), n.ref)
				if err != nil {
					return storedErr(n.file, err)
				}
				if m.Signed.Version != n.ref.Version {
					return storedErr(n.file, fmt.Errorf("version %d, the snapshot records %d", m.Signed.Version, n.ref.Version))
				}
				n.md = m
			}
			t.nodes[n.name] = n
			t.order = append(t.order, n.name)
			if n.md != nil {
				if err := visit(n.name, n.md); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit(metadata.TARGETS, st.targets); err != nil {
		return nil, err
	}
	return t, nil
}

// meta returns a role's current metadata (nil: none yet).
func (t *delegTree) meta(name string) *metadata.Metadata[metadata.TargetsType] {
	if name == metadata.TARGETS {
		return t.top
	}
	if n := t.nodes[name]; n != nil {
		return n.md
	}
	return nil
}

// resolution is where a client's lookup of one target path ends.
type resolution struct {
	role    string                // the role whose entry the client uses ("" if none)
	tf      *metadata.TargetFiles // that entry
	visited []string              // the roles consulted, in order
	blocked string                // a role the lookup needs that has no metadata yet
}

// resolve looks target path p up exactly as go-tuf's updater does (TUF
// specification 5.6.7): pre-order, depth first, from top-level targets;
// only the delegations whose paths (or hash bin) match p are followed, in
// their order; after a terminating delegation no other is tried; at most
// maxDelegations roles are consulted. A role without metadata stops the
// lookup (a client fails there).
func (t *delegTree) resolve(p string) resolution {
	var res resolution
	stack := []string{metadata.TARGETS}
	seen := map[string]bool{}
	for len(seen) <= maxDelegations && len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[name] {
			continue
		}
		res.visited = append(res.visited, name)
		md := t.meta(name)
		if md == nil {
			res.blocked = name
			return res
		}
		if tf, ok := md.Signed.Targets[p]; ok {
			res.role, res.tf = name, tf
			return res
		}
		seen[name] = true
		if md.Signed.Delegations == nil {
			continue
		}
		var kids []string
		for _, rr := range md.Signed.Delegations.GetRolesForTarget(p) {
			kids = append(kids, rr.Name)
			if rr.Terminating {
				stack = stack[:0]
				break
			}
		}
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, kids[i])
		}
	}
	return res
}

// effTarget is a target as clients resolve it, with the role that signs it.
type effTarget struct {
	tf   *metadata.TargetFiles
	role string
}

// effective maps every target path that some role lists to the entry a
// client resolves it to. A path that resolves nowhere (listed only by a
// role that is not trusted for it, or shadowed, or behind a role without
// metadata) is absent.
func (t *delegTree) effective() map[string]effTarget {
	out := map[string]effTarget{}
	add := func(md *metadata.Metadata[metadata.TargetsType]) {
		for p := range md.Signed.Targets {
			if _, done := out[p]; done {
				continue
			}
			if res := t.resolve(p); res.tf != nil {
				out[p] = effTarget{tf: res.tf, role: res.role}
			}
		}
	}
	add(t.top)
	for _, name := range t.order {
		if md := t.nodes[name].md; md != nil {
			add(md)
		}
	}
	return out
}

// view is st with the top-level targets replaced by the effective targets
// of the whole tree (read-only): what the version and delta-base checks of
// AddTarget, written for top-level targets, must see once roles sign
// models too.
func (t *delegTree) view(st *state) *state {
	if len(t.nodes) == 0 {
		return st
	}
	eff := t.effective()
	md := metadata.Targets(st.targets.Signed.Expires)
	md.Signed.Targets = make(map[string]*metadata.TargetFiles, len(eff))
	for p, e := range eff {
		md.Signed.Targets[p] = e.tf
	}
	v := *st
	v.targets = md
	return &v
}

// namedRoles lists the named (not hash-bin) roles that top-level targets
// delegates to, in delegation order.
func (t *delegTree) namedRoles() []string {
	var out []string
	if d := t.top.Signed.Delegations; d != nil {
		for _, r := range d.Roles {
			out = append(out, r.Name)
		}
	}
	return out
}

// bins returns the succinct hash-bin delegation of top-level targets, if any.
func (t *delegTree) bins() *metadata.SuccinctRoles {
	if d := t.top.Signed.Delegations; d != nil && d.Roles == nil {
		return d.SuccinctRoles
	}
	return nil
}

// sortedKeys returns a map's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
