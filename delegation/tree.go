package delegation

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// MaxTreeRoles bounds how many delegated roles LoadTree reads from a
// repository (hash bins count one each; mrepo writes at most MaxBins).
const MaxTreeRoles = 1 << 14

// maxDelegations is how many roles one lookup may visit before it gives up,
// go-tuf's default (config.MaxDelegations): resolution on the repository
// side must find exactly what a client finds.
const maxDelegations = 32

// Role is one delegated targets role as stored: how it is delegated and
// its current metadata, if it has any yet.
type Role struct {
	Name   string
	Parent string // the delegating role
	// Delegated is the delegation of a named role (nil for a hash bin);
	// Bins the succinct delegation of a hash bin.
	Delegated *metadata.DelegatedRole
	Bins      *metadata.SuccinctRoles
	// Ref is the role's entry in the snapshot (nil: never published); Meta
	// its metadata (nil when Ref is nil) and File the name it was read
	// from.
	Ref  *metadata.MetaFiles
	Meta *metadata.Metadata[metadata.TargetsType]
	File string
	// only is set on a hash bin that LoadForModel kept for one model's
	// versions alone (Trimmed): the target path prefix of the entries
	// Meta still lists.
	only string
}

// Trimmed reports whether the role's metadata lists only the targets of
// one model (LoadForModel keeps no more of a bin it reads for the model's
// versions): its signatures were checked as read, it resolves every other
// path as blocked, and it can be neither checked again nor re-signed.
func (n *Role) Trimmed() bool { return n.only != "" }

// Keys returns the key IDs and threshold the role's metadata must be
// signed with.
func (n *Role) Keys() *metadata.Role {
	if n.Bins != nil {
		return &metadata.Role{KeyIDs: n.Bins.KeyIDs, Threshold: n.Bins.Threshold}
	}
	return &metadata.Role{KeyIDs: n.Delegated.KeyIDs, Threshold: n.Delegated.Threshold}
}

// Delegates reports whether the role is trusted for target path p.
func (n *Role) Delegates(p string) bool {
	if n.Bins != nil {
		rs := n.Bins.GetRolesForTarget(p)
		return len(rs) == 1 && rs[0].Name == n.Name
	}
	ok, _ := n.Delegated.IsDelegatedPath(p)
	return ok
}

// Tree is the targets delegation tree of a repository state: top-level
// targets and every delegated role reachable from it. It is read-only:
// the writer builds new metadata from it, status reports it.
type Tree struct {
	Top   *metadata.Metadata[metadata.TargetsType]
	Roles map[string]*Role
	Order []string // pre-order, depth first, each role once
	// Partial is set on a tree that holds only some hash bins (LoadBins).
	Partial bool
	// trimTo, while set, is the model prefix to which addBin trims the
	// bins it reads, once checked (LoadForModel).
	trimTo string
}

// RoleFile is the consistent-snapshot name of a delegated role's metadata.
func RoleFile(name string, version int64) string {
	return repofiles.RoleFile(name, version)
}

// LoadTree reads, from the repository in dir, every delegated role
// reachable from top (the top-level targets that snapshot records), each
// checked against the length and hash the snapshot records for it.
// Signatures are not checked here: a writer checks those of the role it
// builds on, status reports them. Errors wrap
// repofiles.ErrStoredMetadata.
func LoadTree(fs afero.Fs, dir string, top *metadata.Metadata[metadata.TargetsType], snapshot *metadata.Metadata[metadata.SnapshotType]) (*Tree, error) {
	t := &Tree{Top: top, Roles: map[string]*Role{}}
	var visit func(parent string, md *metadata.Metadata[metadata.TargetsType]) error
	visit = func(parent string, md *metadata.Metadata[metadata.TargetsType]) error {
		d := md.Signed.Delegations
		if d == nil {
			return nil
		}
		var kids []*Role
		for i := range d.Roles {
			kids = append(kids, &Role{Name: d.Roles[i].Name, Parent: parent, Delegated: &d.Roles[i]})
		}
		if d.Roles == nil && d.SuccinctRoles != nil {
			for _, name := range d.SuccinctRoles.GetRoles() {
				kids = append(kids, &Role{Name: name, Parent: parent, Bins: d.SuccinctRoles})
			}
		}
		for _, n := range kids {
			if t.Roles[n.Name] != nil || slices.Contains(repofiles.TopLevelRoles, n.Name) {
				continue // delegated twice (or a cycle): the first delegation counts
			}
			if len(t.Roles) >= MaxTreeRoles {
				return repofiles.StoredError(parent, fmt.Errorf("more than %d delegated roles", MaxTreeRoles))
			}
			if err := n.read(fs, dir, snapshot); err != nil {
				return err
			}
			t.Roles[n.Name] = n
			t.Order = append(t.Order, n.Name)
			if n.Meta != nil {
				if err := visit(n.Name, n.Meta); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit(metadata.TARGETS, top); err != nil {
		return nil, err
	}
	return t, nil
}

// read reads the role's current metadata, if the snapshot lists it,
// checked against the length and hash (if any) and the version the
// snapshot records.
func (n *Role) read(fs afero.Fs, dir string, snapshot *metadata.Metadata[metadata.SnapshotType]) error {
	if n.Ref = snapshot.Signed.Meta[n.Name+".json"]; n.Ref == nil {
		return nil
	}
	n.File = RoleFile(n.Name, n.Ref.Version)
	m, err := repofiles.ReadMeta(fs, filepath.Join(dir, repofiles.MetadataDir, n.File), metadata.Targets(), n.Ref)
	if err != nil {
		return repofiles.StoredError(n.File, err)
	}
	if m.Signed.Version != n.Ref.Version {
		return repofiles.StoredError(n.File, fmt.Errorf("version %d, the snapshot records %d", m.Signed.Version, n.Ref.Version))
	}
	n.Meta = m
	return nil
}

// LoadBins is LoadTree for a publisher that needs only some target paths
// of a repository whose top-level targets delegates to succinct hash
// bins: it reads only the bins those paths hash to, so its cost does not
// grow with the number of bins. The tree is partial (Partial set): a
// path whose bin was not read resolves as blocked, never as absent, and
// View, Effective and ShadowWarnings see the bins read only. A bin that
// delegates further is an error (mrepo never writes one; LoadTree reads
// such a tree whole).
func LoadBins(fs afero.Fs, dir string, top *metadata.Metadata[metadata.TargetsType], snapshot *metadata.Metadata[metadata.SnapshotType], paths []string) (*Tree, error) {
	t := &Tree{Top: top, Roles: map[string]*Role{}, Partial: true}
	sr := t.HashBins()
	if sr == nil {
		return nil, fmt.Errorf("%w: targets does not delegate to hash bins", ErrDelegation)
	}
	if err := t.AddBins(fs, dir, snapshot, paths); err != nil {
		return nil, err
	}
	return t, nil
}

// AddBins reads, into a partial tree (LoadBins), the bins of paths not
// read yet.
func (t *Tree) AddBins(fs afero.Fs, dir string, snapshot *metadata.Metadata[metadata.SnapshotType], paths []string) error {
	sr := t.HashBins()
	for _, p := range paths {
		if err := t.addBin(fs, dir, snapshot, sr, sr.GetRolesForTarget(p)[0].Name); err != nil {
			return err
		}
	}
	return nil
}

// addBin reads the hash bin name of sr into a partial tree, unless it is
// read already.
// A bin read trimmed (Role.Trimmed) is read again whole once the tree
// no longer trims: a writer re-signs it.
func (t *Tree) addBin(fs afero.Fs, dir string, snapshot *metadata.Metadata[metadata.SnapshotType], sr *metadata.SuccinctRoles, name string) error {
	old := t.Roles[name]
	if old != nil && (!old.Trimmed() || t.trimTo != "") {
		return nil
	}
	n := &Role{Name: name, Parent: metadata.TARGETS, Bins: sr}
	if err := n.read(fs, dir, snapshot); err != nil {
		return err
	}
	if n.Meta != nil && n.Meta.Signed.Delegations != nil {
		return repofiles.StoredError(n.File, fmt.Errorf("hash bin %s delegates further", name))
	}
	if t.trimTo != "" && n.Meta != nil {
		if err := t.trim(n); err != nil {
			return err
		}
	}
	t.Roles[name] = n
	if old == nil {
		t.Order = append(t.Order, name)
	}
	return nil
}

// trim checks a bin's signatures (CheckSigned) and then keeps, of its
// entries, only those under t.trimTo: the rest (other models') would be
// most of a publication's live heap and is never used.
func (t *Tree) trim(n *Role) error {
	if err := t.CheckSigned(n); err != nil {
		return err
	}
	kept := map[string]*metadata.TargetFiles{}
	for p, tf := range n.Meta.Signed.Targets {
		if strings.HasPrefix(p, t.trimTo) {
			kept[p] = tf
		}
	}
	n.Meta.Signed.Targets, n.only = kept, t.trimTo
	return nil
}

// LoadRole reads the tree a writer of the delegated role called name
// (RolesNamed) needs: that bin alone, when name is one of the hash bins
// of top (a partial tree); otherwise the whole tree (a named role may be
// delegated anywhere in it, and the bins' name prefix names every bin).
func LoadRole(fs afero.Fs, dir string, top *metadata.Metadata[metadata.TargetsType], snapshot *metadata.Metadata[metadata.SnapshotType], name string) (*Tree, error) {
	t := &Tree{Top: top, Roles: map[string]*Role{}, Partial: true}
	if sr := t.HashBins(); sr != nil && sr.IsDelegatedRole(name) {
		return t, t.addBin(fs, dir, snapshot, sr, name)
	}
	return LoadTree(fs, dir, top, snapshot)
}

// Meta returns a role's current metadata, top-level targets included
// (nil: none yet).
func (t *Tree) Meta(name string) *metadata.Metadata[metadata.TargetsType] {
	if name == metadata.TARGETS {
		return t.Top
	}
	if n := t.Roles[name]; n != nil {
		return n.Meta
	}
	return nil
}

// Resolution is where a client's lookup of one target path ends.
type Resolution struct {
	Role    string                // the role whose entry the client uses ("" if none)
	Target  *metadata.TargetFiles // that entry
	Visited []string              // the roles consulted, in order
	// Blocked is a role the lookup needs that has no metadata yet, or
	// whose entries for p were not kept (Role.Trimmed).
	Blocked string
}

// Resolve looks target path p up exactly as go-tuf's updater does (TUF
// specification 5.6.7): pre-order, depth first, from top-level targets;
// only the delegations whose paths (or hash bin) match p are followed, in
// their order; after a terminating delegation no other is tried; at most
// maxDelegations roles are consulted. A role without metadata stops the
// lookup (a client fails there).
func (t *Tree) Resolve(p string) Resolution {
	var res Resolution
	stack := []string{metadata.TARGETS}
	seen := map[string]bool{}
	for len(seen) <= maxDelegations && len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[name] {
			continue
		}
		res.Visited = append(res.Visited, name)
		md := t.Meta(name)
		if n := t.Roles[name]; md == nil || n != nil && n.Trimmed() && !strings.HasPrefix(p, n.only) {
			res.Blocked = name
			return res
		}
		if tf, ok := md.Signed.Targets[p]; ok {
			res.Role, res.Target = name, tf
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

// Resolved is a target as clients resolve it, with the role that signs it.
type Resolved struct {
	Target *metadata.TargetFiles
	Role   string
}

// Effective maps every target path that some role lists to the entry a
// client resolves it to. A path that resolves nowhere (listed only by a
// role that is not trusted for it, or shadowed, or behind a role without
// metadata) is absent. A trimmed bin (Role.Trimmed) adds only the
// entries it kept.
func (t *Tree) Effective() map[string]Resolved {
	out := map[string]Resolved{}
	add := func(md *metadata.Metadata[metadata.TargetsType]) {
		for p := range md.Signed.Targets {
			if _, done := out[p]; done {
				continue
			}
			if res := t.Resolve(p); res.Target != nil {
				out[p] = Resolved{Target: res.Target, Role: res.Role}
			}
		}
	}
	add(t.Top)
	for _, name := range t.Order {
		if md := t.Roles[name].Meta; md != nil {
			add(md)
		}
	}
	return out
}

// View is top-level targets with its targets replaced by the effective
// targets of the whole tree (read-only; Top itself when nothing is
// delegated): what the version and delta-base checks of add-target,
// written for top-level targets, and status's model list must see once
// roles sign models too.
func (t *Tree) View() *metadata.Metadata[metadata.TargetsType] {
	if len(t.Roles) == 0 {
		return t.Top
	}
	eff := t.Effective()
	md := metadata.Targets(t.Top.Signed.Expires)
	md.Signed.Targets = make(map[string]*metadata.TargetFiles, len(eff))
	for p, e := range eff {
		md.Signed.Targets[p] = e.Target
	}
	return md
}

// NamedRoles lists the named (not hash-bin) roles that top-level targets
// delegates to, in delegation order.
func (t *Tree) NamedRoles() []string {
	var out []string
	if d := t.Top.Signed.Delegations; d != nil {
		for _, r := range d.Roles {
			out = append(out, r.Name)
		}
	}
	return out
}

// HashBins returns the succinct hash-bin delegation of top-level targets,
// if any.
func (t *Tree) HashBins() *metadata.SuccinctRoles {
	if d := t.Top.Signed.Delegations; d != nil && d.Roles == nil {
		return d.SuccinctRoles
	}
	return nil
}
