package client_test

// Delegated targets roles and succinct hash bins, end to end: a model a
// team publishes with its own key, targets a role lists outside its
// paths, terminating delegations, a role that has no metadata yet, and
// hash bins.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func patternsOf(t testing.TB, id string) []string {
	t.Helper()
	ps, err := delegation.ModelPatterns(id)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// delegateTeam delegates the models matching id to a new role named name,
// whose key signs its first metadata at once, and returns the team's key.
func delegateTeam(t testing.TB, r *testrepo.Repo, name, id string) *keys.Key {
	t.Helper()
	k, pub := testrepo.TeamKey(t, name)
	res := r.Delegate(t, delegation.Options{Name: name, Paths: patternsOf(t, id), Keys: []*metadata.Key{pub}}, k)
	if res.Pending {
		t.Fatalf("role %s is pending", name)
	}
	return k
}

func requestCount(s *server, substr string) int {
	n := 0
	for _, r := range s.requests("/metadata/") {
		if strings.Contains(r.Path, substr) {
			n++
		}
	}
	return n
}

// TestDelegatedTeamModel: a device installs a model that a team published
// into its delegated role with its own key (and the online snapshot and
// timestamp keys, not the targets key), then the next version as a patch
// signed by the team too; offline verification resolves the installed
// files through the role.
func TestDelegatedTeamModel(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	team := delegateTeam(t, r, "det-team", model)
	kr := r.OnlineKeyring(t, team)
	r.PublishAs(t, kr, model, "1.0.0", weightsBundle(t, "1.0.0"), targets.Compat{}, repo.AddOptions{Role: "det-team"})
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	d.mustUpdate("1.0.0")
	d.wantActive("1.0.0")
	if n := requestCount(srv, ".det-team.json"); n != 1 {
		t.Errorf("the role's metadata was fetched %d times", n)
	}

	res := r.PublishAs(t, kr, model, "1.1.0", weightsBundle(t, "1.1.0"), targets.Compat{}, repo.AddOptions{Role: "det-team", DeltaFrom: []string{"1.0.0"}})
	published := 0
	for _, dr := range res.Deltas {
		if dr.Published {
			published++
		}
	}
	if published != 1 || res.RoleVersions["det-team"] != 3 {
		t.Fatalf("publication %+v", res)
	}
	up := d.mustUpdate("1.1.0")
	if ff := fileFetch(t, up, "model.bin"); ff.Method != client.MethodDelta || ff.Base != "1.0.0" {
		t.Errorf("model.bin obtained %+v, want a patch from 1.0.0", ff)
	}
	d.wantActive("1.1.0")
	if rep := audit.Verify(afero.NewOsFs(), r.Dir, r.Root, audit.Options{}); !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
}

// TestDelegatedTargetOutsidePathsIgnored: role det-1x is delegated only
// det 1.x (models/det/1.*/*). Its key signs a role version that also
// lists det 9.0.0, a complete and valid version whose files are on the
// server: devices load the role (it may sign det versions) but never take
// 9.0.0, since TUF's lookup of its paths does not reach the role.
func TestDelegatedTargetOutsidePathsIgnored(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	k, pub := testrepo.TeamKey(t, "det-1x")
	r.Delegate(t, delegation.Options{Name: "det-1x", Paths: []string{"models/det/1.*/*"}, Keys: []*metadata.Key{pub}}, k)
	r.PublishAs(t, r.OnlineKeyring(t, k), model, "1.0.0", bundle(seedOf("1.0.0"), 4096), targets.Compat{}, repo.AddOptions{Role: "det-1x"})

	// det 9.0.0 as a real publication makes it (at top level, where det
	// 9.x is not delegated), in a scratch copy.
	scratch := &testrepo.Repo{Dir: snapshotRepo(t, r), Keys: r.Keys, Root: r.Root}
	var err error
	if scratch.R, err = repo.Open(afero.NewOsFs(), scratch.Dir); err != nil {
		t.Fatal(err)
	}
	publish(t, scratch, 4096, "9.0.0")
	copyTree(t, filepath.Join(scratch.Dir, "targets", "models", model, "9.0.0"), filepath.Join(r.Dir, "targets", "models", model, "9.0.0"))
	stolen := forge(t, scratch.Dir).tg.Signed.Targets

	// The team's key signs a role version that lists it too.
	f := forge(t, r.Dir)
	mf := f.snap.Signed.Meta["det-1x.json"]
	role, err := metadata.Targets().FromFile(f.meta(fmt.Sprintf("%d.det-1x.json", mf.Version)))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for p, tf := range stolen {
		if strings.HasPrefix(p, "models/"+model+"/9.0.0/") {
			role.Signed.Targets[p] = tf
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d targets of det 9.0.0", n)
	}
	role.Signed.Version++
	role.Signed.Expires = expiry()
	signer, err := k.Signer()
	if err != nil {
		t.Fatal(err)
	}
	role.ClearSignatures()
	if _, err := role.Sign(signer); err != nil {
		t.Fatal(err)
	}
	data, err := role.ToBytes(true)
	if err != nil {
		t.Fatal(err)
	}
	entry := f.write(fmt.Sprintf("%d.det-1x.json", role.Signed.Version), data)
	entry.Version = role.Signed.Version
	f.snap.Signed.Meta["det-1x.json"] = entry
	f.publishSnapshot(trustedSigner(t, r, metadata.SNAPSHOT))
	f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))

	rep := audit.Verify(afero.NewOsFs(), r.Dir, r.Root, audit.Options{})
	found := false
	for _, p := range rep.Problems {
		found = found || (p.Code == audit.DelegationViolation && p.Target == "models/det/9.0.0/manifest.json")
	}
	if !found {
		t.Errorf("verify: %v", rep.Problems)
	}

	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	d.mustUpdate("1.0.0")
	d.wantActive("1.0.0")
	if n := requestCount(srv, ".det-1x.json"); n != 1 {
		t.Errorf("the role was fetched %d times: the test needs the device to load it", n)
	}
	if got := srv.requests("/targets/models/det/9.0.0/"); len(got) != 0 {
		t.Errorf("the device fetched %v", got)
	}
	// Control: the same version listed at top level, where det 9.x is not
	// delegated, is taken: the device above refused it for the delegation.
	d2 := newDevice(t, scratch, serveRepo(t, scratch).URL, fastOpts())
	if res, err := d2.update(client.UpdateRequest{}); err != nil || res.Version != "9.0.0" {
		t.Fatalf("control: %v %+v", err, res)
	}
}

// TestTerminatingDelegation: roles are consulted in order; role b's
// version of det is found behind non-terminating role a, and disappears
// once a is terminating: a new device installs a's version, and a device
// that runs b's version stays on it (never an older one).
func TestTerminatingDelegation(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	a := delegateTeam(t, r, "a", model)
	b := delegateTeam(t, r, "b", "*")
	r.PublishAs(t, r.OnlineKeyring(t, a), model, "1.0.0", bundle(seedOf("1.0.0"), 4096), targets.Compat{}, repo.AddOptions{Role: "a"})
	r.PublishAs(t, r.OnlineKeyring(t, b), model, "2.0.0", bundle(seedOf("2.0.0"), 4096), targets.Compat{}, repo.AddOptions{Role: "b"})
	srv := serveRepo(t, r)
	d1 := newDevice(t, r, srv.URL, fastOpts())
	d1.mustUpdate("2.0.0")

	terminating := true
	r.Delegate(t, delegation.Options{Name: "a", Terminating: &terminating})
	d2 := newDevice(t, r, srv.URL, fastOpts())
	d2.mustUpdate("1.0.0")
	d2.wantActive("1.0.0")
	res, err := d1.update(client.UpdateRequest{})
	if err != nil || res.Outcome != client.OutcomeUpToDate || res.Version != "2.0.0" {
		t.Fatalf("device on b's version: %v %+v", err, res)
	}
}

// TestPendingDelegation: roles delegated without their keys have no
// metadata (the snapshot does not list them) until their first
// publication. A model they do not cover is not affected; a model one of
// them covers is still found in top-level targets; a model only a pending
// role covers is simply not published yet.
func TestPendingDelegation(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, 4096, "1.0.0")
	for _, o := range []struct{ name, id string }{{"vision", "vision-*"}, {"late", model}} {
		_, pub := testrepo.TeamKey(t, o.name)
		if res := r.Delegate(t, delegation.Options{Name: o.name, Paths: patternsOf(t, o.id), Keys: []*metadata.Key{pub}}); !res.Pending {
			t.Fatalf("%s: %+v", o.name, res)
		}
	}
	if rep := audit.Verify(afero.NewOsFs(), r.Dir, r.Root, audit.Options{}); len(rep.Problems) != 2 || rep.Problems[0].Code != audit.MetadataMissing {
		t.Errorf("verify: %v", rep.Problems)
	}
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	d.mustUpdate("1.0.0")
	d.wantActive("1.0.0")
	res, err := d.update(client.UpdateRequest{ModelID: "vision-cls"})
	if client.CodeOf(err) != client.TargetNotFound {
		t.Fatalf("vision-cls: %v %+v", err, res)
	}
}

// TestHashBins: every target path delegated to 16 succinct hash bins
// (TAP 15): the versions of a model are spread over the bins; without a
// version index (index_test.go) the device lists them by loading every
// bin once, then only the bins that changed.
func TestHashBins(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	bk, pub := testrepo.TeamKey(t, "bins")
	res := r.Delegate(t, delegation.Options{Bins: 16, NamePrefix: "bins", Keys: []*metadata.Key{pub}}, bk)
	if len(res.RoleVersions) != 16 {
		t.Fatalf("delegate %+v", res)
	}
	kr := r.OnlineKeyring(t, bk)
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		if ar := r.PublishAs(t, kr, model, v, bundle(seedOf(v), 4096), targets.Compat{}, repo.AddOptions{}); len(ar.RoleVersions) == 0 {
			t.Fatalf("%s went to no bin: %+v", v, ar)
		}
	}
	b := &binnedRepo{Repo: r, bk: bk, bins: metadata.SuccinctRoles{BitLength: 4, NamePrefix: "bins"}}
	b.dropIndex(t)
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	d.mustUpdate("2.0.0")
	d.wantActive("2.0.0")
	if n := requestCount(srv, ".bins-"); n != 16 {
		t.Errorf("%d bins fetched, want each of the 16 once", n)
	}
	srv.reset()
	ar := r.PublishAs(t, kr, model, "2.1.0", bundle(seedOf("2.1.0"), 4096), targets.Compat{}, repo.AddOptions{})
	d.mustUpdate("2.1.0")
	d.wantActive("2.1.0")
	if n := requestCount(srv, ".bins-"); n != len(ar.RoleVersions) {
		t.Errorf("%d bins fetched after a publication that changed %d", n, len(ar.RoleVersions))
	}
	if entries, _ := os.ReadDir(filepath.Join(r.Dir, "metadata")); len(entries) < 16 {
		t.Errorf("metadata holds %d files", len(entries))
	}
}
