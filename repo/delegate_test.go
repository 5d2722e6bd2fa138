package repo

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/status"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

const day = 24 * time.Hour

func teamKey(t testing.TB, name string) *keys.Key {
	t.Helper()
	k, err := keys.Generate(name, keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// plusKeys returns a new keyring of kr's keys and extra ones.
func plusKeys(kr keys.MemKeyring, extra ...*keys.Key) keys.MemKeyring {
	out := keys.MemKeyring{}
	for id, k := range kr {
		out[id] = k
	}
	return out.Add(extra...)
}

func modelPatterns(t testing.TB, id string) []string {
	t.Helper()
	ps, err := delegation.ModelPatterns(id)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// teamWeights returns n pseudo-random bytes; versions of one model share the
// seed and differ in a few bytes, so patches between them are small.
func teamWeights(seed uint64, n int, version string) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	copy(b[n/2:], version)
	return b
}

var bundleSeq atomic.Int64

// publishAs publishes a small bundle of model id, version with kr.
func publishAs(t testing.TB, r *Repository, fs afero.Fs, kr keys.Keyring, id, version string, opts AddOptions) (*AddResult, error) {
	t.Helper()
	dir := fmt.Sprintf("/bundles/%s-%s-%d", id, version, bundleSeq.Add(1))
	files := map[string][]byte{"model.bin": teamWeights(7, 16<<10, version)}
	writeBundle(t, fs, dir, `{"model_id":"`+id+`","version":"`+version+`"}`, files)
	return r.AddTarget(dir, kr, opts)
}

func mustPublishAs(t testing.TB, r *Repository, fs afero.Fs, kr keys.Keyring, id, version string, opts AddOptions) *AddResult {
	t.Helper()
	res, err := publishAs(t, r, fs, kr, id, version, opts)
	if err != nil {
		t.Fatalf("publish %s %s (role %q): %v", id, version, opts.Role, err)
	}
	return res
}

// teamKeyring is what a team's CI holds: its key and the snapshot and
// timestamp keys, not the targets key.
func teamKeyring(t testing.TB, team ...*keys.Key) keys.MemKeyring {
	return plusKeys(keysFor(t, metadata.SNAPSHOT, metadata.TIMESTAMP), team...)
}

// delegateVision delegates vision-* to a role "vision" with a fresh key
// and returns the keyring that publishes as that role (teamKeyring).
func delegateVision(t testing.TB, f *fixture, r *Repository) keys.MemKeyring {
	t.Helper()
	team := teamKey(t, "vision")
	if _, err := r.Delegate(plusKeys(f.kr, team), delegation.Options{Name: "vision", Paths: modelPatterns(t, "vision-*"), Keys: []*metadata.Key{team.Public}}); err != nil {
		t.Fatal(err)
	}
	return teamKeyring(t, team)
}

// delegateBins delegates every target to 8 hash bins "bins-*" with a
// fresh key and returns the keyring that publishes as them.
func delegateBins(t testing.TB, f *fixture, r *Repository) keys.MemKeyring {
	t.Helper()
	bins := teamKey(t, "bins")
	if _, err := r.Delegate(plusKeys(f.kr, bins), delegation.Options{Bins: 8, NamePrefix: "bins", Keys: []*metadata.Key{bins.Public}}); err != nil {
		t.Fatal(err)
	}
	return teamKeyring(t, bins)
}

func problemCodes(rep *audit.Report) []string {
	var out []string
	for _, p := range rep.Problems {
		out = append(out, p.String())
	}
	return out
}

// forgeRole signs a changed version of a delegated role with the given
// keys and publishes it with the fixture's snapshot and timestamp keys,
// as a holder of the role's key (and of the online keys) could.
func forgeRole(t testing.TB, fs afero.Fs, dir string, now time.Time, name string, kr keys.Keyring, mutate func(md *metadata.Metadata[metadata.TargetsType])) {
	t.Helper()
	r := openAt(t, fs, dir, now)
	st, tree := loadedTree(t, r)
	n := tree.Roles[name]
	mutate(n.Meta)
	rs, err := signers(kr, name, n.Keys())
	if err != nil {
		t.Fatal(err)
	}
	ss, err := gatherSigners(st, getFixture(t).kr, metadata.SNAPSHOT, metadata.TIMESTAMP)
	if err != nil {
		t.Fatal(err)
	}
	tx := r.newTx(st)
	tx.writeRole(n, n.Meta, rs)
	tx.publish(ss, metadata.SNAPSHOT)
	if _, err := tx.commit(); err != nil {
		t.Fatal(err)
	}
}

// statusOf is mrepo status of r's repository, with r's clock and
// configured lifetimes.
func statusOf(r *Repository, opts status.Options) (*status.Report, error) {
	opts.Now, opts.Lifetime = r.Now(), r.cfg.Expiry.For
	return status.Read(r.fs, r.dir, opts)
}

func statusRole(s *status.Report, name string) *status.Role {
	for i := range s.Roles {
		if s.Roles[i].Role == name {
			return &s.Roles[i]
		}
	}
	return nil
}

func statusModel(s *status.Report, id string) *status.Model {
	for i := range s.Models {
		if s.Models[i].ModelID == id {
			return &s.Models[i]
		}
	}
	return nil
}

func hasWarning(s *status.Report, substr string) bool {
	return slices.ContainsFunc(s.Warnings, func(w string) bool { return strings.Contains(w, substr) })
}

// TestDelegateNamedRole: a role delegated without its key is pending (no
// metadata: verify and status say so); the team's first publication,
// signed with its key and the online snapshot and timestamp keys only,
// creates it; a second one with a delta patch follows; the repository
// verifies (go-tuf's client resolves the targets through the delegation),
// and status shows the role and which models it signs.
func TestDelegateNamedRole(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	team := teamKey(t, "vision")

	res, err := r.Delegate(f.kr, delegation.Options{Name: "vision", Paths: modelPatterns(t, "vision-*"), Keys: []*metadata.Key{team.Public}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || !res.Pending || res.RoleVersions != nil || res.Versions != (Versions{Targets: 4, Snapshot: 4, Timestamp: 4}) {
		t.Fatalf("result %+v", res)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "mrepo add-target --role vision") {
		t.Errorf("warnings %q", res.Warnings)
	}
	st := current(t, fs, dir)
	d := st.targets.Signed.Delegations
	want := metadata.DelegatedRole{Name: "vision", KeyIDs: []string{team.ID()}, Threshold: 1,
		Paths: []string{"models/vision-*/*/*", "models/vision-*/*/deltas/*/*"}, UnrecognizedFields: d.Roles[0].UnrecognizedFields}
	if len(d.Roles) != 1 || !reflect.DeepEqual(d.Roles[0], want) || d.Keys[team.ID()] == nil || len(d.Keys) != 1 {
		t.Fatalf("delegations %+v", d)
	}
	if rep := verifyAt(t, fs, dir, t0); !hasProblem(rep, audit.MetadataMissing, "vision", "") || len(rep.Problems) != 1 {
		t.Errorf("pending role: verify found %q", problemCodes(rep))
	}
	s, err := statusOf(r, status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rs := statusRole(s, "vision"); rs == nil || !rs.Pending || rs.DelegatedBy != metadata.TARGETS || rs.ThresholdMet {
		t.Errorf("status role %+v", rs)
	}
	if !hasWarning(s, "vision: no metadata yet") {
		t.Errorf("status warnings %q", s.Warnings)
	}

	// The team publishes, without the targets key.
	kr := teamKeyring(t, team)
	ar := mustPublishAs(t, r, fs, kr, "vision-cls", "1.0.0", AddOptions{Role: "vision"})
	if ar.Role != "vision" || !reflect.DeepEqual(ar.RoleVersions, map[string]int64{"vision": 1}) || ar.Versions != (Versions{Targets: 4, Snapshot: 5, Timestamp: 5}) {
		t.Fatalf("add result %+v", ar)
	}
	st = current(t, fs, dir)
	if mf := st.snapshot.Signed.Meta["vision.json"]; mf == nil || mf.Version != 1 || len(st.targets.Signed.Targets) != 6 {
		t.Fatalf("snapshot entry %+v, %d top-level targets", mf, len(st.targets.Signed.Targets))
	}
	checkChain(t, fs, dir, st)
	requireVerifies(t, fs, dir, t0)

	// A patch from 1.0.0, inside the role too.
	ar = mustPublishAs(t, r, fs, kr, "vision-cls", "1.1.0", AddOptions{Role: "vision", DeltaFrom: []string{"1.0.0"}})
	if len(ar.Deltas) != 1 || !ar.Deltas[0].Published || ar.RoleVersions["vision"] != 2 {
		t.Fatalf("add result %+v", ar)
	}
	rep := requireVerifies(t, fs, dir, t0)
	if !slices.ContainsFunc(rep.Roles, func(rr audit.RoleReport) bool { return rr.Role == "vision" && rr.Version == 2 }) {
		t.Errorf("verify roles %+v", rep.Roles)
	}

	s, err = statusOf(r, status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs := statusRole(s, "vision")
	if rs == nil || rs.Pending || rs.Version != 2 || !rs.ThresholdMet || rs.ValidSignatures != 1 || !rs.Expires.Equal(expiryAt(t0, DefaultExpiry.Targets)) {
		t.Errorf("status role %+v", rs)
	}
	if m := statusModel(s, "vision-cls"); m == nil || !reflect.DeepEqual(m.Versions, []string{"1.0.0", "1.1.0"}) || !reflect.DeepEqual(m.Roles, []string{"vision"}) || len(m.Deltas) != 1 {
		t.Errorf("status model %+v", m)
	}
	if m := statusModel(s, "det"); m == nil || m.Roles != nil {
		t.Errorf("status model %+v", m)
	}
	if len(s.Warnings) != 0 {
		t.Errorf("warnings %q", s.Warnings)
	}
}

// TestDelegatedRoleCannotPublishOutsideItsPaths: a team's publication of
// another team's model, of a delta patch its patterns do not cover, with
// a wrong key or with only the targets key is refused before anything is
// written; so is a top-level publication of a delegated path. A role
// version that lists a path outside the role's patterns anyway (forged
// with the team's key) is reported by verify and status.
func TestDelegatedRoleCannotPublishOutsideItsPaths(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	team := teamKey(t, "vision")
	res, err := r.Delegate(plusKeys(f.kr, team), delegation.Options{Name: "vision", Paths: modelPatterns(t, "vision-*"), Keys: []*metadata.Key{team.Public}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending || !reflect.DeepEqual(res.RoleVersions, map[string]int64{"vision": 1}) {
		t.Fatalf("with the role's key at hand, its first metadata is signed at once: %+v", res)
	}
	requireVerifies(t, fs, dir, t0)
	kr := teamKeyring(t, team)
	mustPublishAs(t, r, fs, kr, "vision-cls", "1.0.0", AddOptions{Role: "vision"})
	// Files only: no delta patterns.
	narrow := teamKey(t, "narrow")
	if _, err := r.Delegate(plusKeys(f.kr, narrow), delegation.Options{Name: "narrow", Paths: []string{"models/narrow/*/*"}, Keys: []*metadata.Key{narrow.Public}}); err != nil {
		t.Fatal(err)
	}
	mustPublishAs(t, r, fs, teamKeyring(t, narrow), "narrow", "1.0.0", AddOptions{Role: "narrow"})

	before := fileSnapshot(t, fs, dir)
	for _, c := range []struct {
		name    string
		kr      keys.Keyring
		id, ver string
		opts    AddOptions
		want    error
		msg     string
	}{
		{"another team's model", kr, "det", "3.0.0", AddOptions{Role: "vision"}, ErrOutsideDelegation,
			"role vision may sign only models/vision-*/*/*, models/vision-*/*/deltas/*/*; models/det/3.0.0/"},
		{"a patch outside the patterns", teamKeyring(t, narrow), "narrow", "1.1.0", AddOptions{Role: "narrow", DeltaFrom: []string{"1.0.0"}}, ErrOutsideDelegation,
			"models/narrow/1.1.0/deltas/1.0.0/model.bin is not among them"},
		{"without the team's key", teamKeyring(t), "vision-cls", "2.0.0", AddOptions{Role: "vision"}, ErrThreshold, "vision needs 1 of its keys, 0 available"},
		{"with another key", teamKeyring(t, narrow), "vision-cls", "2.0.0", AddOptions{Role: "vision"}, ErrThreshold, "vision needs 1 of its keys"},
		{"with the targets key instead", f.kr, "vision-cls", "2.0.0", AddOptions{Role: "vision"}, ErrThreshold, "vision needs 1 of its keys"},
		{"top-level publication of a delegated path", f.kr, "vision-cls", "2.0.0", AddOptions{}, ErrDelegation, "is delegated to role vision: publish it with --role vision"},
		{"an unknown role", kr, "vision-cls", "2.0.0", AddOptions{Role: "audio"}, ErrDelegation, "role audio is not delegated by targets (delegated roles: vision, narrow)"},
		{"a version below the newest", kr, "vision-cls", "0.9.0", AddOptions{Role: "vision"}, ErrVersionNotNewer, "vision-cls 0.9.0 < 1.0.0"},
	} {
		_, err := publishAs(t, r, fs, c.kr, c.id, c.ver, c.opts)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %v containing %q", c.name, err, c.want, c.msg)
		}
		if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(d) != 0 {
			t.Fatalf("%s changed the repository: %v", c.name, d)
		}
	}
	requireVerifies(t, fs, dir, t0)

	// Forged anyway: the team's key signs a listing of det 9.0.0.
	forgeRole(t, fs, dir, t0, "vision", keys.MemKeyring{}.Add(team), func(md *metadata.Metadata[metadata.TargetsType]) {
		st := current(t, fs, dir)
		tf := *st.targets.Signed.Targets["models/det/2.0.0/manifest.json"]
		tf.Path = "models/det/9.0.0/manifest.json"
		md.Signed.Targets[tf.Path] = &tf
	})
	rep := verifyAt(t, fs, dir, t0)
	if !hasProblem(rep, audit.DelegationViolation, "vision", "models/det/9.0.0/manifest.json") {
		t.Errorf("verify: %q", problemCodes(rep))
	}
	s, err := statusOf(r, status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasWarning(s, "vision lists models/det/9.0.0/manifest.json, a path it is not delegated") {
		t.Errorf("status warnings %q", s.Warnings)
	}
	if m := statusModel(s, "det"); m == nil || m.Latest != "2.0.0" {
		t.Errorf("status shows det %+v: the forged listing is not a published version", m)
	}
	// Publishing det goes on, at top level: the forged listing is ignored.
	mustPublishAs(t, r, fs, f.kr, "det", "3.0.0", AddOptions{})
}

// TestDelegateTerminatingAndOrder: roles are consulted in delegation
// order; a terminating role ends every lookup it matches, so a later
// role's versions of its models disappear (status, verify) and the later
// role may not publish them any more.
func TestDelegateTerminatingAndOrder(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	a, b := teamKey(t, "a"), teamKey(t, "b")
	for _, o := range []delegation.Options{
		{Name: "a", Paths: modelPatterns(t, "cam"), Keys: []*metadata.Key{a.Public}},
		{Name: "b", Paths: modelPatterns(t, "*"), Keys: []*metadata.Key{b.Public}},
	} {
		if _, err := r.Delegate(plusKeys(f.kr, a, b), o); err != nil {
			t.Fatal(err)
		}
	}
	mustPublishAs(t, r, fs, teamKeyring(t, a), "cam", "1.0.0", AddOptions{Role: "a"})
	mustPublishAs(t, r, fs, teamKeyring(t, b), "cam", "2.0.0", AddOptions{Role: "b"}) // a is not terminating
	mustPublishAs(t, r, fs, teamKeyring(t, b), "det", "3.0.0", AddOptions{Role: "b"})
	requireVerifies(t, fs, dir, t0)
	s, err := statusOf(r, status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m := statusModel(s, "cam"); m == nil || !reflect.DeepEqual(m.Versions, []string{"1.0.0", "2.0.0"}) || !reflect.DeepEqual(m.Roles, []string{"a", "b"}) {
		t.Errorf("cam %+v", m)
	}
	if m := statusModel(s, "det"); m == nil || !reflect.DeepEqual(m.Versions, []string{"1.0.0", "2.0.0", "3.0.0"}) || !reflect.DeepEqual(m.Roles, []string{"b", "targets"}) {
		t.Errorf("det %+v", m)
	}
	if _, err := publishAs(t, r, fs, f.kr, "det", "4.0.0", AddOptions{}); !errors.Is(err, ErrDelegation) {
		t.Errorf("top-level det 4.0.0 under role b's paths: %v", err)
	}

	terminating := true
	res, err := r.Delegate(f.kr, delegation.Options{Name: "a", Terminating: &terminating})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Terminating || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "role b lists 2 target(s) that devices do not find there, for example models/cam/2.0.0/manifest.json") {
		t.Errorf("result %+v", res)
	}
	rep := verifyAt(t, fs, dir, t0)
	if !hasProblem(rep, audit.ClientRejected, "", "models/cam/2.0.0/manifest.json") {
		t.Errorf("verify %q", problemCodes(rep))
	}
	if s, err = statusOf(r, status.Options{}); err != nil {
		t.Fatal(err)
	}
	if m := statusModel(s, "cam"); m == nil || !reflect.DeepEqual(m.Versions, []string{"1.0.0"}) || !reflect.DeepEqual(m.Roles, []string{"a"}) {
		t.Errorf("cam after a became terminating: %+v", m)
	}
	_, err = publishAs(t, r, fs, teamKeyring(t, b), "cam", "3.0.0", AddOptions{Role: "b"})
	if !errors.Is(err, ErrOutsideDelegation) || !strings.Contains(err.Error(), "never reach role b") {
		t.Errorf("b publishing cam behind terminating a: %v", err)
	}
	mustPublishAs(t, r, fs, teamKeyring(t, a), "cam", "3.0.0", AddOptions{Role: "a"})
}

// TestDelegateKeyReplacement is the compromised-team-key runbook: the
// role's key is replaced; its current metadata, signed by the old key, is
// refused (verify, publishing, plain re-signing) until the new key
// re-signs it with AfterKeyChange; then the team publishes with the new
// key, and the old key can do nothing.
func TestDelegateKeyReplacement(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	old, fresh := teamKey(t, "vision-1"), teamKey(t, "vision-2")
	if _, err := r.Delegate(plusKeys(f.kr, old), delegation.Options{Name: "vision", Paths: modelPatterns(t, "vision-*"), Keys: []*metadata.Key{old.Public}}); err != nil {
		t.Fatal(err)
	}
	mustPublishAs(t, r, fs, teamKeyring(t, old), "vision-cls", "1.0.0", AddOptions{Role: "vision"})

	res, err := r.Delegate(f.kr, delegation.Options{Name: "vision", Keys: []*metadata.Key{fresh.Public}, ReplaceKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.KeyIDs, []string{fresh.ID()}) || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "mrepo targets --role vision --after-key-change") {
		t.Fatalf("result %+v", res)
	}
	st := current(t, fs, dir)
	if d := st.targets.Signed.Delegations; len(d.Keys) != 1 || d.Keys[fresh.ID()] == nil {
		t.Errorf("delegation keys %v: the old key must be gone", d.Keys)
	}
	if rep := verifyAt(t, fs, dir, t0); !hasProblem(rep, audit.MetadataSignatureInvalid, "vision", "") {
		t.Errorf("verify %q", problemCodes(rep))
	}
	if _, err := publishAs(t, r, fs, teamKeyring(t, old), "vision-cls", "6.6.6", AddOptions{Role: "vision"}); !errors.Is(err, ErrStoredMetadata) && !errors.Is(err, ErrThreshold) {
		t.Errorf("old key: %v", err)
	}
	if _, err := publishAs(t, r, fs, teamKeyring(t, fresh), "vision-cls", "1.1.0", AddOptions{Role: "vision"}); !errors.Is(err, ErrStoredMetadata) || !strings.Contains(err.Error(), "--after-key-change") {
		t.Errorf("new key before re-signing: %v", err)
	}
	if _, err := r.ResignRole("vision", teamKeyring(t, fresh), ResignOptions{}); !errors.Is(err, ErrStoredMetadata) {
		t.Errorf("re-sign without AfterKeyChange: %v", err)
	}
	if _, err := r.ResignRole("vision", teamKeyring(t, old), ResignOptions{AfterKeyChange: true}); !errors.Is(err, ErrThreshold) {
		t.Errorf("re-sign with the old key: %v", err)
	}
	rr, err := r.ResignRole("vision", teamKeyring(t, fresh), ResignOptions{AfterKeyChange: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rr.Roles, map[string]int64{"vision": 3}) || len(rr.Warnings) != 1 {
		t.Errorf("resign %+v", rr)
	}
	requireVerifies(t, fs, dir, t0)
	mustPublishAs(t, r, fs, teamKeyring(t, fresh), "vision-cls", "1.1.0", AddOptions{Role: "vision"})
	requireVerifies(t, fs, dir, t0)

	// Two keys, threshold 2, then back to one by removing a key by prefix.
	third := teamKey(t, "vision-3")
	if _, err := r.Delegate(f.kr, delegation.Options{Name: "vision", Threshold: 3}); !errors.Is(err, ErrDelegation) {
		t.Errorf("threshold above the number of keys: %v", err)
	}
	if _, err := r.Delegate(f.kr, delegation.Options{Name: "vision", Keys: []*metadata.Key{third.Public}, Threshold: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := publishAs(t, r, fs, teamKeyring(t, fresh), "vision-cls", "1.2.0", AddOptions{Role: "vision"}); !errors.Is(err, ErrStoredMetadata) {
		t.Errorf("one signature of a threshold-2 role's metadata: %v", err)
	}
	if _, err := r.ResignRole("vision", teamKeyring(t, fresh, third), ResignOptions{AfterKeyChange: true}); err != nil {
		t.Fatal(err)
	}
	mustPublishAs(t, r, fs, teamKeyring(t, fresh, third), "vision-cls", "1.2.0", AddOptions{Role: "vision"})
	requireVerifies(t, fs, dir, t0)
	res, err = r.Delegate(f.kr, delegation.Options{Name: "vision", RemoveKeys: []string{third.ID()[:8]}, Threshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.KeyIDs, []string{fresh.ID()}) || len(res.Warnings) != 0 {
		t.Errorf("after removing a key: %+v (the metadata signed by both still meets threshold 1)", res)
	}
	requireVerifies(t, fs, dir, t0)
}

// TestDelegatedRoleExpiry: a delegated role expires like any role:
// verify --valid-for and status warn before, verify fails after, and the
// team's re-signing (ResignRole) makes it fresh.
func TestDelegatedRoleExpiry(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	team := teamKey(t, "vision")
	r := openAt(t, fs, dir, t0)
	if _, err := r.Delegate(plusKeys(f.kr, team), delegation.Options{Name: "vision", Paths: modelPatterns(t, "vision-*"), Keys: []*metadata.Key{team.Public}}); err != nil {
		t.Fatal(err)
	}
	mustPublishAs(t, r, fs, teamKeyring(t, team), "vision-cls", "1.0.0", AddOptions{Role: "vision"}) // expires t0 + 90 days
	// Top-level targets re-signed later, snapshot and timestamp kept fresh.
	if _, err := openAt(t, fs, dir, t0.Add(60*day)).Targets(f.kr); err != nil {
		t.Fatal(err)
	}
	late := t0.Add(89*day + 12*time.Hour)
	if _, err := openAt(t, fs, dir, late).Snapshot(f.kr); err != nil {
		t.Fatal(err)
	}
	rep := audit.Verify(fs, dir, f.rootJSON, audit.Options{Now: late.Add(time.Hour), ValidFor: 12 * time.Hour})
	if !hasProblem(rep, audit.ExpiresSoon, "vision", "") || hasProblem(rep, audit.ExpiresSoon, metadata.TARGETS, "") {
		t.Errorf("verify --valid-for: %q", problemCodes(rep))
	}
	s, err := statusOf(openAt(t, fs, dir, late), status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasWarning(s, "vision: expires in 12h00m") {
		t.Errorf("status warnings %q", s.Warnings)
	}
	after := t0.Add(90*day + time.Hour)
	rep = verifyAt(t, fs, dir, after)
	if !hasProblem(rep, audit.MetadataExpired, "vision", "") || len(rep.Problems) != 1 {
		t.Errorf("verify after expiry: %q", problemCodes(rep))
	}
	if s, err = statusOf(openAt(t, fs, dir, after), status.Options{}); err != nil || !hasWarning(s, "vision: EXPIRED at") {
		t.Errorf("status after expiry: %v %q", err, s.Warnings)
	}
	rr, err := openAt(t, fs, dir, after).ResignRole("vision", teamKeyring(t, team), ResignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Roles["vision"] != 3 {
		t.Errorf("resign %+v", rr)
	}
	requireVerifies(t, fs, dir, after)
}

// TestHashBins: succinct hash bins (TAP 15) created with their key sign
// every bin at once; publications then go into the bins of their target
// paths, signed with the bins' key (no targets key), deltas included;
// verify (and go-tuf's client) resolve every target through its bin;
// re-keying re-signs every bin.
func TestHashBins(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, initTree) // a fresh repository
	r := openAt(t, fs, dir, t0)
	bins := teamKey(t, "bins")
	opts := delegation.Options{Bins: 8, NamePrefix: "bins", Keys: []*metadata.Key{bins.Public}}
	if _, err := r.Delegate(f.kr, opts); !errors.Is(err, ErrThreshold) {
		t.Fatalf("bins without their key: %v", err)
	}
	res, err := r.Delegate(plusKeys(f.kr, bins), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Bins != 8 || len(res.RoleVersions) != 8 || res.RoleVersions["bins-7"] != 1 {
		t.Fatalf("result %+v", res)
	}
	requireVerifies(t, fs, dir, t0)
	kr := teamKeyring(t, bins)
	ar := mustPublishAs(t, r, fs, kr, "det", "1.0.0", AddOptions{})
	if len(ar.RoleVersions) == 0 || ar.Versions.Targets != 2 {
		t.Fatalf("add result %+v", ar)
	}
	ar = mustPublishAs(t, r, fs, kr, "det", "1.1.0", AddOptions{DeltaFrom: []string{"1.0.0"}})
	if len(ar.Deltas) != 1 || !ar.Deltas[0].Published {
		t.Fatalf("deltas %+v", ar.Deltas)
	}
	st := current(t, fs, dir)
	if len(st.targets.Signed.Targets) != 0 {
		t.Errorf("top-level targets lists %d targets", len(st.targets.Signed.Targets))
	}
	rep := requireVerifies(t, fs, dir, t0)
	if rep.Targets != 6 { // 2 manifests, 2 payloads, 1 patch, the version index
		t.Errorf("verified %d targets", rep.Targets)
	}
	s, err := statusOf(r, status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b := s.Bins; b == nil || b.Bins != 8 || b.Published != 8 || b.ThresholdMet != 8 || b.Targets != 6 || b.MinVersion != 1 {
		t.Errorf("status bins %+v", s.Bins)
	}
	if m := statusModel(s, "det"); m == nil || !reflect.DeepEqual(m.Versions, []string{"1.0.0", "1.1.0"}) {
		t.Errorf("status det %+v", m)
	}
	if len(s.Warnings) != 0 {
		t.Errorf("warnings %q", s.Warnings)
	}
	if _, err := publishAs(t, r, fs, kr, "det", "2.0.0", AddOptions{Role: "bins-1"}); !errors.Is(err, ErrDelegation) {
		t.Errorf("--role with bins: %v", err)
	}
	if _, err := r.Delegate(f.kr, delegation.Options{Name: "vision", Paths: modelPatterns(t, "v"), Keys: []*metadata.Key{bins.Public}}); !errors.Is(err, ErrDelegation) {
		t.Errorf("a named role next to bins: %v", err)
	}
	if _, err := r.Delegate(plusKeys(f.kr, bins), delegation.Options{Bins: 16, NamePrefix: "bins"}); !errors.Is(err, ErrDelegation) {
		t.Errorf("re-binning: %v", err)
	}

	// New keys for the bins: every bin re-signed in the same publication.
	fresh := teamKey(t, "bins-2")
	res, err = r.Delegate(plusKeys(f.kr, fresh), delegation.Options{NamePrefix: "bins", Keys: []*metadata.Key{fresh.Public}, ReplaceKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RoleVersions) != 8 {
		t.Errorf("re-keyed %+v", res)
	}
	requireVerifies(t, fs, dir, t0)
	if _, err := publishAs(t, r, fs, kr, "det", "2.0.0", AddOptions{}); !errors.Is(err, ErrThreshold) {
		t.Errorf("old bins key: %v", err)
	}
	rr, err := r.ResignRole("bins", teamKeyring(t, fresh), ResignOptions{})
	if err != nil || len(rr.Roles) != 8 {
		t.Fatalf("resign bins: %v %+v", err, rr)
	}
	mustPublishAs(t, r, fs, teamKeyring(t, fresh), "det", "2.0.0", AddOptions{})
	requireVerifies(t, fs, dir, t0)

	// A bin that lists a path of another bin: clients never find it there.
	p := "models/det/9.0.0/manifest.json"
	var home string
	for _, n := range []string{"bins-0", "bins-1"} {
		if (&metadata.SuccinctRoles{BitLength: 3, NamePrefix: "bins"}).GetRolesForTarget(p)[0].Name != n {
			home = n
			break
		}
	}
	forgeRole(t, fs, dir, t0, home, keys.MemKeyring{}.Add(fresh), func(md *metadata.Metadata[metadata.TargetsType]) {
		md.Signed.Targets[p] = &metadata.TargetFiles{Length: 1, Hashes: metadata.Hashes{"sha256": make([]byte, 32)}, Path: p}
	})
	if rep := verifyAt(t, fs, dir, t0); !hasProblem(rep, audit.DelegationViolation, home, p) {
		t.Errorf("verify %q", problemCodes(rep))
	}
}

// TestDelegateRefusals: invalid requests change nothing.
func TestDelegateRefusals(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	team := teamKey(t, "vision")
	pub := []*metadata.Key{team.Public}
	if _, err := r.Delegate(f.kr, delegation.Options{Name: "gone", Paths: modelPatterns(t, "gone"), Keys: pub}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ResignRole("gone", keys.MemKeyring{}.Add(team).Add(keysList(f.kr)...), ResignOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Delegate(f.kr, delegation.Options{Name: "gone", Remove: true}); err != nil {
		t.Fatal(err)
	}
	before := fileSnapshot(t, fs, dir)
	for _, c := range []struct {
		opts delegation.Options
		kr   keys.Keyring
		msg  string
	}{
		{delegation.Options{Name: "targets", Paths: modelPatterns(t, "x"), Keys: pub}, f.kr, `role name "targets" is a top-level role's`},
		{delegation.Options{Name: "a/b", Paths: modelPatterns(t, "x"), Keys: pub}, f.kr, `role name "a/b": use 1 to 64 characters`},
		{delegation.Options{Name: "vision", Paths: []string{"models/vision/*"}, Keys: pub}, f.kr, `path pattern "models/vision/*" has 3 components and matches no model target`},
		{delegation.Options{Name: "vision", Paths: []string{"targets/vision/*/*"}, Keys: pub}, f.kr, "matches no model target: they start with models/"},
		{delegation.Options{Name: "vision", Paths: []string{"models/[/*/*"}, Keys: pub}, f.kr, "is malformed"},
		{delegation.Options{Name: "vision", Keys: pub}, f.kr, "a new role needs path patterns"},
		{delegation.Options{Name: "vision", Paths: modelPatterns(t, "v")}, f.kr, "a new role needs at least one key"},
		{delegation.Options{Name: "vision", Paths: modelPatterns(t, "v"), Keys: pub, Threshold: 2}, f.kr, "threshold 2 with 1 key(s)"},
		{delegation.Options{Name: "gone", Paths: modelPatterns(t, "v"), Keys: pub}, f.kr, "the name gone was used before"},
		{delegation.Options{Name: "vision", Remove: true}, f.kr, "role vision is not delegated by targets"},
		{delegation.Options{Name: "vision", Remove: true, Threshold: 1}, f.kr, "removing a role takes no other change"},
		{delegation.Options{Bins: 6, NamePrefix: "bins", Keys: pub}, f.kr, "6 hash bins: use a power of two"},
		{delegation.Options{Bins: 8, Name: "x", NamePrefix: "bins", Keys: pub}, f.kr, "exclude each other"},
		{delegation.Options{Name: "vision", Paths: modelPatterns(t, "v"), Keys: pub}, keysFor(t, metadata.SNAPSHOT, metadata.TIMESTAMP), "targets needs 1 of its keys"},
	} {
		_, err := r.Delegate(c.kr, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v, want %q", c.opts, err, c.msg)
		}
		if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(d) != 0 {
			t.Fatalf("%+v changed the repository: %v", c.opts, d)
		}
	}
	if err := delegation.CheckPathPattern("models/*/*/deltas/*/*"); err != nil {
		t.Error(err)
	}
	if err := delegation.CheckPathPattern("models/*/*/x/*/*"); err == nil {
		t.Error("a 6-component pattern that is not for deltas was accepted")
	}
	if _, err := delegation.ModelPatterns("a/b"); err == nil {
		t.Error("--model a/b accepted")
	}
	// The pending (never signed) role does not hide the other models from
	// status, and resolution on the repository side skips nothing else.
	requireVerifies(t, fs, dir, t0)
	if got := targets.ManifestPath("det", "2.0.0"); current(t, fs, dir).targets.Signed.Targets[got] == nil {
		t.Fatal("det 2.0.0 is gone")
	}
}

func keysList(kr keys.MemKeyring) []*keys.Key {
	var out []*keys.Key
	for _, k := range kr {
		out = append(out, k)
	}
	return out
}
