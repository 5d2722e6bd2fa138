package delegation_test

import (
	"crypto/sha256"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// treeRepo is a repository's metadata in memory: unsigned (LoadTree does
// not check signatures), each role file recorded in the snapshot with its
// length and hash.
type treeRepo struct {
	fs   afero.Fs
	top  *metadata.Metadata[metadata.TargetsType]
	snap *metadata.Metadata[metadata.SnapshotType]
}

const treeDir = "/repo"

var expires = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func newTreeRepo() *treeRepo {
	return &treeRepo{fs: afero.NewMemMapFs(), top: metadata.Targets(expires), snap: metadata.Snapshot(expires)}
}

// delegate adds a named delegation from parent.
func delegate(parent *metadata.Metadata[metadata.TargetsType], name string, terminating bool, paths ...string) {
	if parent.Signed.Delegations == nil {
		parent.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}}
	}
	parent.Signed.Delegations.Roles = append(parent.Signed.Delegations.Roles,
		metadata.DelegatedRole{Name: name, KeyIDs: []string{"k-" + name}, Threshold: 1, Terminating: terminating, Paths: paths})
}

// role returns a role's metadata listing the given target paths.
func role(paths ...string) *metadata.Metadata[metadata.TargetsType] {
	md := metadata.Targets(expires)
	for _, p := range paths {
		md.Signed.Targets[p] = &metadata.TargetFiles{Length: 1, Hashes: metadata.Hashes{"sha256": make([]byte, 32)}, Path: p}
	}
	return md
}

// store writes a role's metadata as version v and records it in the
// snapshot.
func (r *treeRepo) store(t *testing.T, name string, v int64, md *metadata.Metadata[metadata.TargetsType]) {
	t.Helper()
	md.Signed.Version = v
	data, err := md.ToBytes(false)
	if err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(r.fs, filepath.Join(treeDir, repofiles.MetadataDir, delegation.RoleFile(name, v)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	r.snap.Signed.Meta[name+".json"] = &metadata.MetaFiles{Version: v, Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
}

func (r *treeRepo) load(t *testing.T) *delegation.Tree {
	t.Helper()
	tree, err := delegation.LoadTree(r.fs, treeDir, r.top, r.snap)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

const (
	visionPath = "models/vision-cls/1.0.0/manifest.json"
	otherPath  = "models/det/1.0.0/manifest.json"
)

// fixtureTree: targets delegates vision-* to vision (terminating), then
// every model to team, which delegates det to sub; pending has no
// metadata. vision lists a vision model; team lists the same path (shadowed
// by vision) and det's; sub lists nothing.
func fixtureTree(t *testing.T) *treeRepo {
	r := newTreeRepo()
	delegate(r.top, "vision", true, "models/vision-*/*/*")
	delegate(r.top, "team", false, "models/*/*/*")
	delegate(r.top, "pending", false, "models/late/*/*")
	r.store(t, "vision", 1, role(visionPath))
	team := role(visionPath, otherPath)
	delegate(team, "sub", false, "models/det/*/*")
	r.store(t, "team", 3, team)
	r.store(t, "sub", 1, role())
	return r
}

func TestLoadTree(t *testing.T) {
	t.Parallel()
	tree := fixtureTree(t).load(t)
	if want := []string{"vision", "team", "sub", "pending"}; !slices.Equal(tree.Order, want) {
		t.Errorf("order %q, want %q (pre-order, depth first)", tree.Order, want)
	}
	sub := tree.Roles["sub"]
	if sub.Parent != "team" || sub.File != "1.sub.json" || sub.Meta == nil || sub.Ref.Version != 1 || sub.Bins != nil {
		t.Errorf("sub %+v", sub)
	}
	if p := tree.Roles["pending"]; p.Meta != nil || p.Ref != nil || p.File != "" {
		t.Errorf("pending %+v", p)
	}
	if k := tree.Roles["team"].Keys(); !slices.Equal(k.KeyIDs, []string{"k-team"}) || k.Threshold != 1 {
		t.Errorf("team keys %+v", k)
	}
	if tree.Meta(metadata.TARGETS) != tree.Top || tree.Meta("pending") != nil || tree.Meta("nobody") != nil {
		t.Error("Meta")
	}
	if got := tree.NamedRoles(); !slices.Equal(got, []string{"vision", "team", "pending"}) {
		t.Errorf("named roles %q", got)
	}
	if tree.HashBins() != nil {
		t.Error("hash bins without any")
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	tree := fixtureTree(t).load(t)
	for _, c := range []struct {
		path, role, blocked string
		visited             []string
	}{
		{visionPath, "vision", "", []string{"targets", "vision"}},
		// vision is terminating for vision-*: team is never consulted.
		{"models/vision-x/1.0.0/manifest.json", "", "", []string{"targets", "vision"}},
		{otherPath, "team", "", []string{"targets", "team"}},
		{"models/det/2.0.0/manifest.json", "", "", []string{"targets", "team", "sub"}},
		{"models/late/1.0.0/manifest.json", "", "pending", []string{"targets", "team", "pending"}},
	} {
		res := tree.Resolve(c.path)
		if res.Role != c.role || res.Blocked != c.blocked || !slices.Equal(res.Visited, c.visited) || (res.Target != nil) != (c.role != "") {
			t.Errorf("Resolve(%s) = %+v, want role %q blocked %q visited %q", c.path, res, c.role, c.blocked, c.visited)
		}
	}
	if !tree.Roles["vision"].Delegates(visionPath) || tree.Roles["vision"].Delegates(otherPath) {
		t.Error("vision's Delegates")
	}
}

func TestEffectiveAndView(t *testing.T) {
	t.Parallel()
	r := fixtureTree(t)
	r.top.Signed.Targets["models/top/1.0.0/manifest.json"] = role("models/top/1.0.0/manifest.json").Signed.Targets["models/top/1.0.0/manifest.json"]
	tree := r.load(t)
	eff := tree.Effective()
	want := map[string]string{visionPath: "vision", otherPath: "team", "models/top/1.0.0/manifest.json": "targets"}
	if len(eff) != len(want) {
		t.Errorf("effective %v", eff)
	}
	for p, role := range want {
		if eff[p].Role != role || eff[p].Target == nil {
			t.Errorf("%s resolves to %+v, want %s", p, eff[p], role)
		}
	}
	view := tree.View()
	if view == tree.Top || len(view.Signed.Targets) != len(want) || view.Signed.Expires != tree.Top.Signed.Expires {
		t.Errorf("view %+v", view.Signed)
	}
	if eff[visionPath].Target != tree.Roles["vision"].Meta.Signed.Targets[visionPath] {
		t.Error("vision's path resolves to team's shadowed entry")
	}

	plain := newTreeRepo()
	if tree := plain.load(t); tree.View() != tree.Top || len(tree.Roles) != 0 {
		t.Error("View of a tree without delegations is not top-level targets")
	}
}

func TestHashBins(t *testing.T) {
	t.Parallel()
	r := newTreeRepo()
	sr := &metadata.SuccinctRoles{KeyIDs: []string{"k"}, Threshold: 1, BitLength: 1, NamePrefix: "bin"}
	r.top.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}, SuccinctRoles: sr}
	names := sr.GetRoles()
	p := "models/det/1.0.0/manifest.json"
	mine := sr.GetRolesForTarget(p)[0].Name
	r.store(t, mine, 1, role(p))
	tree := r.load(t)
	if tree.HashBins() != sr || !slices.Equal(tree.Order, names) || tree.NamedRoles() != nil {
		t.Errorf("bins tree: order %q", tree.Order)
	}
	if res := tree.Resolve(p); res.Role != mine {
		t.Errorf("Resolve(%s) = %+v, want %s", p, res, mine)
	}
	other := names[0]
	if other == mine {
		other = names[1]
	}
	if tree.Roles[other].Delegates(p) || !tree.Roles[mine].Delegates(p) {
		t.Error("bins' Delegates")
	}
}

func TestLoadTreeRefusesStoredMismatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, want string
		edit       func(r *treeRepo)
	}{
		{"bytes differ from the snapshot's hash", "1.vision.json: differs from the length or hash its referrer records", func(r *treeRepo) {
			r.snap.Signed.Meta["vision.json"].Hashes["sha256"][0] ^= 1
		}},
		{"version differs from the snapshot's", "3.team.json: version 2, the snapshot records 3", func(r *treeRepo) {
			path := filepath.Join(treeDir, repofiles.MetadataDir, "3.team.json")
			data, _ := afero.ReadFile(r.fs, path)
			m, err := metadata.Targets().FromBytes(data)
			if err != nil {
				panic(err)
			}
			m.Signed.Version = 2
			data, _ = m.ToBytes(false)
			afero.WriteFile(r.fs, path, data, 0o644)
			sum := sha256.Sum256(data)
			r.snap.Signed.Meta["team.json"] = &metadata.MetaFiles{Version: 3, Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
		}},
		{"file missing", "1.sub.json:", func(r *treeRepo) {
			r.fs.Remove(filepath.Join(treeDir, repofiles.MetadataDir, "1.sub.json"))
		}},
	} {
		r := fixtureTree(t)
		c.edit(r)
		_, err := delegation.LoadTree(r.fs, treeDir, r.top, r.snap)
		if !errors.Is(err, repofiles.ErrStoredMetadata) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrStoredMetadata with %q", c.name, err, c.want)
		}
	}
}

// TestPublishChecks: where add-target may sign a path, on the fixture
// tree (vision terminating for vision-*, team for every model, pending
// without metadata).
func TestPublishChecks(t *testing.T) {
	t.Parallel()
	tree := fixtureTree(t).load(t)
	vision, team := tree.Roles["vision"], tree.Roles["team"]
	if err := tree.CheckRolePaths(vision, []string{"models/vision-x/1.0.0/w.bin"}); err != nil {
		t.Errorf("vision's own path: %v", err)
	}
	for _, c := range []struct {
		role *delegation.Role
		path string
		want string
	}{
		{vision, otherPath, "role vision may sign only models/vision-*/*/*"},
		{team, "models/vision-x/1.0.0/w.bin", "never reach role team (the lookup ends at vision"},
		{team, "models/late/1.0.0/w.bin", "stop at role pending, which has no metadata yet"},
	} {
		if err := tree.CheckRolePaths(c.role, []string{c.path}); !errors.Is(err, delegation.ErrOutsideDelegation) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %q", c.role.Name, c.path, err, c.want)
		}
	}
	if err := tree.CheckTopLevelPaths([]string{otherPath}); !errors.Is(err, delegation.ErrDelegation) || !strings.Contains(err.Error(), "delegated to role team") {
		t.Errorf("top-level path of team's: %v", err)
	}
	if err := tree.CheckTopLevelPaths([]string{"targets-only.txt"}); err != nil {
		t.Errorf("undelegated path: %v", err)
	}
	if got := tree.ShadowWarnings(); len(got) != 1 || !strings.HasPrefix(got[0], "role team lists 1 target(s) that devices do not find there, for example "+visionPath) {
		t.Errorf("shadow warnings %q", got)
	}
	if got := tree.RolesHint(); got != " (delegated roles: vision, team, pending)" {
		t.Errorf("roles hint %q", got)
	}
	if got := newTreeRepo().load(t).RolesHint(); got != " (it delegates to no role; see mrepo delegate)" {
		t.Errorf("roles hint without roles %q", got)
	}
}

// TestApplyRefuses: Apply's checks on metadata alone.
func TestApplyRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opts delegation.Options
		want string
	}{
		{"remove unknown", delegation.Options{Name: "nobody", Remove: true}, "role nobody is not delegated by targets (delegated roles: vision, team, pending)"},
		{"nested role", delegation.Options{Name: "sub", Paths: []string{"models/x/*/*"}}, "role sub is already delegated by team"},
		{"new without keys", delegation.Options{Name: "fresh", Paths: []string{"models/x/*/*"}}, "a new role needs at least one key"},
		{"bins next to named roles", delegation.Options{NamePrefix: "bin", Bins: 4}, "targets delegates to named roles (vision, team, pending)"},
	} {
		r := fixtureTree(t)
		tree := r.load(t)
		if _, err := tree.Apply(r.snap, c.opts); !errors.Is(err, delegation.ErrDelegation) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// A removed role's name stays in the snapshot: it cannot come back.
	r := fixtureTree(t)
	tree := r.load(t)
	c, err := tree.Apply(r.snap, delegation.Options{Name: "vision", Remove: true})
	if err != nil || !c.Removed || len(c.Warnings) != 1 || slices.Contains(tree.NamedRoles(), "vision") {
		t.Fatalf("remove vision: %+v, %v", c, err)
	}
	if _, err := r.load(t).Apply(r.snap, delegation.Options{Name: "vision", Paths: []string{"models/x/*/*"}, Keys: []*metadata.Key{{}}}); err == nil || !strings.Contains(err.Error(), "the name vision was used before") {
		t.Errorf("vision again: %v", err)
	}
}

// TestLoadRole: in hash bins, LoadRole of one bin reads that bin alone
// (the other, stored as bytes that do not parse, is never opened); the
// bins' name prefix and a named role read the whole tree (LoadTree, which
// refuses the unparsable bin).
func TestLoadRole(t *testing.T) {
	t.Parallel()
	r := newTreeRepo()
	sr := &metadata.SuccinctRoles{KeyIDs: []string{"k"}, Threshold: 1, BitLength: 1, NamePrefix: "bin"}
	r.top.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}, SuccinctRoles: sr}
	p := "models/det/1.0.0/manifest.json"
	mine := sr.GetRolesForTarget(p)[0].Name
	other := sr.GetRoles()[0]
	if other == mine {
		other = sr.GetRoles()[1]
	}
	r.store(t, mine, 1, role(p))
	r.store(t, other, 1, role())
	if err := afero.WriteFile(r.fs, filepath.Join(treeDir, repofiles.MetadataDir, delegation.RoleFile(other, 1)), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree, err := delegation.LoadRole(r.fs, treeDir, r.top, r.snap, mine)
	if err != nil {
		t.Fatal(err)
	}
	if !tree.Partial || !slices.Equal(tree.Order, []string{mine}) || tree.Resolve(p).Role != mine {
		t.Errorf("LoadRole(%s): partial %v, order %q", mine, tree.Partial, tree.Order)
	}
	for _, name := range []string{"bin", "team"} {
		if _, err := delegation.LoadRole(r.fs, treeDir, r.top, r.snap, name); !errors.Is(err, repofiles.ErrStoredMetadata) {
			t.Errorf("LoadRole(%s) with an unparsable bin: %v, want ErrStoredMetadata (the whole tree read)", name, err)
		}
	}
}
