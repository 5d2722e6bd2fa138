package repo

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Writers other than add-target in hash bins (docs/design.md section 13):
// a control change, mrepo grant (WithPublishedVersion) and targets --role
// of one bin read only the bins they need. A bin they do not need may be
// unreadable or unsigned on disk: they succeed and leave it as it is
// (LoadTree would have refused it). A bin they read is signature-checked,
// whether they re-sign it or not.

// binsOf256 is publishedTree (det 1.0.0 and 2.0.0) migrated into 256 bins
// (the snapshot records them by version only), and a bin that holds
// nothing of det: a writer of det need not read it.
func binsOf256(t *testing.T) (fs afero.Fs, dir, unrelated string) {
	t.Helper()
	fs, dir = clone(t, publishedTree)
	if _, err := openAt(t, fs, dir, t0).MigrateBins(getFixture(t).kr, MigrateOptions{Count: 256}); err != nil {
		t.Fatal(err)
	}
	st := current(t, fs, dir)
	used := map[string]bool{}
	for p := range st.targets.Signed.Targets {
		used[binOf(t, fs, dir, p)] = true
	}
	_, tree := loadedTree(t, openAt(t, fs, dir, t0))
	for name, n := range tree.Roles {
		for p := range n.Meta.Signed.Targets {
			used[name], used[binOf(t, fs, dir, p)] = true, true
		}
	}
	for _, name := range st.targets.Signed.Delegations.SuccinctRoles.GetRoles() {
		if !used[name] {
			return fs, dir, name
		}
	}
	t.Fatal("every bin holds a target")
	return
}

// binPath is the file of bin's current metadata.
func binPath(t *testing.T, fs afero.Fs, dir, bin string) string {
	t.Helper()
	return filepath.Join(dir, MetadataDir, delegation.RoleFile(bin, current(t, fs, dir).snapshot.Signed.Meta[bin+".json"].Version))
}

// spoilBin replaces bin's current metadata on disk: with bytes that do
// not parse (garbage), or with its own content edited so that its
// signatures no longer match (unsigned). It returns the new bytes.
func spoilBin(t *testing.T, fs afero.Fs, dir, bin string, garbage bool) []byte {
	t.Helper()
	name := binPath(t, fs, dir, bin)
	data := []byte("not metadata\n")
	if !garbage {
		raw, err := afero.ReadFile(fs, name)
		if err != nil {
			t.Fatal(err)
		}
		md, err := metadata.Targets().FromBytes(raw)
		if err != nil {
			t.Fatal(err)
		}
		md.Signed.Expires = md.Signed.Expires.Add(time.Hour) // signatures no longer match
		if data, err = md.ToBytes(false); err != nil {
			t.Fatal(err)
		}
	}
	if err := afero.WriteFile(fs, name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// checkUntouched fails unless bin's file holds want and the snapshot
// still records the same version of it.
func checkUntouched(t *testing.T, fs afero.Fs, dir, bin string, version int64, want []byte) {
	t.Helper()
	if v := current(t, fs, dir).snapshot.Signed.Meta[bin+".json"].Version; v != version {
		t.Errorf("%s: version %d after the writer, was %d", bin, v, version)
	}
	got, err := afero.ReadFile(fs, binPath(t, fs, dir, bin))
	if err != nil || string(got) != string(want) {
		t.Errorf("%s rewritten (%v)", bin, err)
	}
}

// controlChanges are the control changes mrepo rollout, halt, revoke,
// unrevoke and policy make, in an order in which each applies to det
// 2.0.0.
func controlChanges(t *testing.T) map[string]rollout.Change {
	halt, err := rollout.Halt("bad accuracy")
	if err != nil {
		t.Fatal(err)
	}
	revoke, err := rollout.Revoke(rollout.RevokeOptions{Reason: "crashes"})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]rollout.Change{
		"1 rollout set": rollout.Set(rollout.SetOptions{BasisPoints: 500}), "2 halt": halt, "3 revoke": revoke, "4 unrevoke": rollout.Unrevoke(),
		"5 policy set": rollout.SetPolicy(&targets.Policy{MinBatteryPercent: 30}), "6 policy clear": rollout.SetPolicy(nil),
	}
}

// TestControlsReadOnlyModelBins: every control change of det 2.0.0 in 256
// bins reads a handful of bins (det's index and manifests), succeeds with
// an unrelated bin unreadable or unsigned on disk, re-signs only the bin
// of det 2.0.0's manifest, and leaves the unrelated bin as it is.
func TestControlsReadOnlyModelBins(t *testing.T) {
	t.Parallel()
	for _, garbage := range []bool{true, false} {
		fs, dir, bad := binsOf256(t)
		version := current(t, fs, dir).snapshot.Signed.Meta[bad+".json"].Version
		spoiled := spoilBin(t, fs, dir, bad, garbage)
		mbin := binOf(t, fs, dir, targets.ManifestPath("det", "2.0.0"))
		changes := controlChanges(t)
		for _, name := range slices.Sorted(maps.Keys(changes)) {
			counted := &binReads{Fs: fs}
			r := openAt(t, counted, dir, t0)
			res, err := r.ChangeControls("det", "2.0.0", getFixture(t).kr, changes[name])
			if err != nil {
				t.Fatalf("garbage %v: %s: %v", garbage, name, err)
			}
			if res.Role != mbin {
				t.Errorf("%s re-signed %s, want %s", name, res.Role, mbin)
			}
			if n := counted.n.Load(); n == 0 || n > 8 {
				t.Errorf("%s read %d bins of 256", name, n)
			}
		}
		checkUntouched(t, fs, dir, bad, version, spoiled)
		if c := controlsOf(t, fs, dir, "det", "2.0.0"); c.Policy != nil || c.Revoked != nil || c.Rollout == nil || c.Rollout.HaltReason != "bad accuracy" {
			t.Errorf("controls after the changes: %+v", c)
		}
	}
}

// TestControlsCheckBinsRead: a control change of det 2.0.0 reads the bin
// of det 1.0.0's manifest (the other versions' controls: revoking 2.0.0
// is refused when no other version is live) without re-signing it, and
// the bin of 2.0.0's, which it re-signs: either edited on disk (unsigned)
// is refused with ErrStoredMetadata and nothing is published, so that
// mrepo never builds on, or launders, metadata that someone edited.
func TestControlsCheckBinsRead(t *testing.T) {
	t.Parallel()
	revoke, err := rollout.Revoke(rollout.RevokeOptions{Reason: "crashes"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.0.0", "2.0.0"} {
		fs, dir, _ := binsOf256(t)
		bin := binOf(t, fs, dir, targets.ManifestPath("det", v))
		if v == "1.0.0" && bin == binOf(t, fs, dir, targets.ManifestPath("det", "2.0.0")) {
			t.Fatal("det 1.0.0 and 2.0.0 share a bin: pick another layout")
		}
		spoilBin(t, fs, dir, bin, false)
		before := current(t, fs, dir).snapshot.Signed.Version
		r := openAt(t, fs, dir, t0)
		if _, err := r.ChangeControls("det", "2.0.0", getFixture(t).kr, revoke); !errors.Is(err, ErrStoredMetadata) {
			t.Errorf("revoke with the bin of det %s unsigned: %v, want ErrStoredMetadata", v, err)
		}
		if err := r.WithPublishedVersion("det", "2.0.0", func(*targets.Custom, targetstore.Store) error { return nil }); !errors.Is(err, ErrStoredMetadata) {
			t.Errorf("grant with the bin of det %s unsigned: %v, want ErrStoredMetadata", v, err)
		}
		if after := current(t, fs, dir).snapshot.Signed.Version; after != before {
			t.Errorf("snapshot %d published (was %d)", after, before)
		}
	}
}

// TestGrantReadsOnlyModelBins: mrepo grant (WithPublishedVersion) of det
// 2.0.0 in 256 bins reads a handful of bins and succeeds with an
// unrelated bin unreadable on disk; an unpublished version is
// rollout.ErrNotPublished, naming the published ones.
func TestGrantReadsOnlyModelBins(t *testing.T) {
	t.Parallel()
	fs, dir, bad := binsOf256(t)
	spoilBin(t, fs, dir, bad, true)
	counted := &binReads{Fs: fs}
	r := openAt(t, counted, dir, t0)
	var got *targets.Custom
	if err := r.WithPublishedVersion("det", "2.0.0", func(c *targets.Custom, _ targetstore.Store) error { got = c; return nil }); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Kind != targets.KindManifest {
		t.Errorf("custom metadata %+v", got)
	}
	if n := counted.n.Load(); n == 0 || n > 8 {
		t.Errorf("read %d bins of 256", n)
	}
	err := r.WithPublishedVersion("det", "9.0.0", func(*targets.Custom, targetstore.Store) error { return nil })
	if !errors.Is(err, rollout.ErrNotPublished) || !strings.Contains(err.Error(), "1.0.0, 2.0.0") {
		t.Errorf("unpublished version: %v", err)
	}
}

// TestResignOneBinReadsOnlyIt: mrepo targets --role BIN re-signs that bin
// reading no other (an unrelated bin unreadable on disk stays as it is);
// the bin itself edited on disk is refused unless --after-key-change.
// targets --role PREFIX re-signs every bin, so it reads every bin, and a
// bin it cannot read stops it.
func TestResignOneBinReadsOnlyIt(t *testing.T) {
	t.Parallel()
	fs, dir, bad := binsOf256(t)
	version := current(t, fs, dir).snapshot.Signed.Version
	spoiled := spoilBin(t, fs, dir, bad, true)
	badVersion := current(t, fs, dir).snapshot.Signed.Meta[bad+".json"].Version
	bin := binOf(t, fs, dir, targets.ManifestPath("det", "2.0.0"))
	counted := &binReads{Fs: fs}
	r := openAt(t, counted, dir, t0)
	res, err := r.ResignRole(bin, getFixture(t).kr, ResignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Roles) != 1 || res.Roles[bin] == 0 {
		t.Errorf("re-signed %v, want %s alone", res.Roles, bin)
	}
	if n := counted.n.Load(); n != 1 {
		t.Errorf("read %d bins, want 1", n)
	}
	checkUntouched(t, fs, dir, bad, badVersion, spoiled)

	spoilBin(t, fs, dir, bin, false)
	if _, err := r.ResignRole(bin, getFixture(t).kr, ResignOptions{}); !errors.Is(err, ErrStoredMetadata) {
		t.Errorf("re-signing an unsigned bin: %v, want ErrStoredMetadata", err)
	}
	if res, err = r.ResignRole(bin, getFixture(t).kr, ResignOptions{AfterKeyChange: true}); err != nil || len(res.Warnings) != 1 {
		t.Errorf("--after-key-change: %v, warnings %q", err, res.Warnings)
	}
	after := current(t, fs, dir).snapshot.Signed.Version
	if after != version+2 {
		t.Errorf("snapshot %d after two re-signings from %d", after, version)
	}
	if _, err := r.ResignRole(BinsPrefix, getFixture(t).kr, ResignOptions{}); !errors.Is(err, ErrStoredMetadata) {
		t.Errorf("re-signing every bin with one unreadable: %v, want ErrStoredMetadata", err)
	}
	if v := current(t, fs, dir).snapshot.Signed.Version; v != after {
		t.Errorf("snapshot %d published (was %d)", v, after)
	}
}

// TestDelegateInBinsReadsEveryBin: mrepo delegate stays eager in hash
// bins (docs/design.md section 13): re-keying the bins re-signs every
// bin, so it reads and checks every bin first, and one unreadable bin
// stops it with nothing published.
func TestDelegateInBinsReadsEveryBin(t *testing.T) {
	t.Parallel()
	fs, dir, bad := binsOf256(t)
	spoilBin(t, fs, dir, bad, true)
	before := current(t, fs, dir).snapshot.Signed.Version
	k := teamKey(t, "bins2")
	r := openAt(t, fs, dir, t0)
	_, err := r.Delegate(plusKeys(getFixture(t).kr, k), delegation.Options{NamePrefix: BinsPrefix, Keys: []*metadata.Key{k.Public}, ReplaceKeys: true})
	if !errors.Is(err, ErrStoredMetadata) {
		t.Errorf("re-keying the bins with one unreadable: %v, want ErrStoredMetadata", err)
	}
	if v := current(t, fs, dir).snapshot.Signed.Version; v != before {
		t.Errorf("snapshot %d published (was %d)", v, before)
	}
}
