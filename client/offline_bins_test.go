package client_test

// Offline checks (verify, rollback) read only the metadata a refresh
// kept (tufsession.SaveVerified). With a version index the device no
// longer loads every bin on a refresh, so the copy it keeps must hold the
// current version of every bin those checks resolve: the bins of the
// active version's files and of the previous version's.

import (
	"fmt"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// bumpBinsOf signs a new version of the bins listing paths, unchanged
// otherwise (another model's publication into the same bins).
func (b *binnedRepo) bumpBinsOf(t *testing.T, paths ...string) {
	t.Helper()
	err := testrepo.ForgeRolesDir(b.Dir, b.wantBins(paths...), func(string, map[string]*metadata.TargetFiles) error { return nil }, b.signers(t))
	if err != nil {
		t.Fatal(err)
	}
}

// TestOfflineVerifyAfterBinMoved: the bins of the active version's files
// move on (other publications) while the device stays up to date: verify,
// offline, still finds every file's signed entry.
func TestOfflineVerifyAfterBinMoved(t *testing.T) {
	t.Parallel()
	b, _, d := onV1Binned(t)
	b.bumpBinsOf(t, targets.TargetPath(model, "1.0.0", "model.bin"), targets.TargetPath(model, "1.0.0", "labels.txt"))
	d.mustUpdate("1.0.0")
	d.wantActive("1.0.0") // includes Verify
}

// TestOfflineVerifyOtherModel: a device with two models polls only the
// other one after the bins of det's files move on: verify of det, offline,
// still finds every file's signed entry (the metadata copy offline checks
// read is shared by all models).
func TestOfflineVerifyOtherModel(t *testing.T) {
	t.Parallel()
	b, _, d := onV1Binned(t)
	const other = "other"
	b.PublishAs(t, b.OnlineKeyring(t, b.bk), other, "1.0.0", bundle(seedOf("o1.0.0"), smallSize), targets.Compat{}, repo.AddOptions{})
	vi, err := targets.NewVersionIndex(other, []string{"1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	b.putInBins(t, map[string][]byte{targets.VersionIndexPath(other): vi.Marshal()}, nil)
	if res, err := d.update(client.UpdateRequest{ModelID: other}); err != nil || res.Version != "1.0.0" {
		t.Fatalf("update of %s: %v %+v", other, err, res)
	}
	b.bumpBinsOf(t, targets.TargetPath(model, "1.0.0", "model.bin"), targets.TargetPath(model, "1.0.0", "labels.txt"))
	if res, err := d.update(client.UpdateRequest{ModelID: other}); err != nil || res.Version != "1.0.0" {
		t.Fatalf("update of %s: %v %+v", other, err, res)
	}
	if _, err := d.c.Verify(model); err != nil {
		t.Fatalf("verify %s: %v", model, err)
	}
}

// TestOfflineRollbackAfterBinMoved: after an update to 2.0.0, the bins of
// 1.0.0's files move on and the device polls again: an explicit rollback
// to 1.0.0, offline, still verifies it.
func TestOfflineRollbackAfterBinMoved(t *testing.T) {
	t.Parallel()
	b, d := onV1ThenV2Binned(t, "2.0.0")
	b.bumpBinsOf(t, targets.TargetPath(model, "1.0.0", "model.bin"), targets.TargetPath(model, "1.0.0", "labels.txt"))
	d.mustUpdate("2.0.0")
	if res, err := d.c.Rollback(model); err != nil || res.Version != "1.0.0" {
		t.Fatalf("rollback: %v %+v", err, res)
	}
	d.wantActive("1.0.0")
}

// TestIndexRevokedActiveHiddenInstalled: the active 1.1.0 is revoked and
// the index no longer names the installed 1.0.0 (a wrong index): the
// device still finds 1.0.0 by the lookup of its own manifest and steps
// down to it, rather than staying on the revoked version.
func TestIndexRevokedActiveHiddenInstalled(t *testing.T) {
	t.Parallel()
	b, d := onV1ThenV2Binned(t, "1.1.0")
	b.revoke(t, "1.1.0")
	b.putIndex(t, "1.1.0")
	d.wantSteppedDownTo("1.0.0")
}

// onV1ThenV2Binned is onV1Binned with v published and indexed next, and
// the device updated to it (1.0.0 kept installed).
func onV1ThenV2Binned(t *testing.T, v string) (*binnedRepo, *device) {
	t.Helper()
	b, _, d := onV1Binned(t)
	b.publish(t, v)
	b.putIndex(t, "1.0.0", v)
	d.mustUpdate(v)
	return b, d
}

// revoke publishes a revocation of version v of the model.
func (b *binnedRepo) revoke(t *testing.T, v string) {
	t.Helper()
	rev := &targets.Revocation{Reason: "bad outputs", Time: "2026-06-01T11:00:00Z"}
	if _, err := b.R.ChangeControls(model, v, b.Keyring(b.bk), rollout.SetExactly(nil, rev, nil)); err != nil {
		t.Fatal(err)
	}
}

// wantSteppedDownTo updates and requires the device to have left its
// revoked active version for v.
func (d *device) wantSteppedDownTo(v string) {
	d.t.Helper()
	res, err := d.update(client.UpdateRequest{})
	if err != nil || res.Outcome != client.OutcomeRolledBack || res.Version != v {
		d.t.Fatalf("update after the revocation: %v %+v", err, res)
	}
	d.wantActive(v)
}

// TestIndexNamesManyMissingVersions: an index names 80,000 versions newer
// than any published (the largest an index of 1 MiB holds, about): each
// is looked up and passed over, and the result reports at most
// listing.MaxSkips of them (one kept error each held some 40 MB).
func TestIndexNamesManyMissingVersions(t *testing.T) {
	t.Parallel()
	b, _, d := onV1Binned(t)
	vs := []string{"1.0.0"}
	for i := range 80000 {
		vs = append(vs, fmt.Sprintf("9.%d.%d", i/1000, i%1000))
	}
	b.putIndex(t, vs...)
	res := d.mustUpdate("1.0.0")
	if len(res.Skipped) == 0 || len(res.Skipped) > 100 {
		t.Fatalf("%d versions reported skipped", len(res.Skipped))
	}
	if res.Skipped[0].Version != "9.79.999" || res.Skipped[0].Code != client.TargetNotFound {
		t.Fatalf("first skipped %+v", res.Skipped[0])
	}
}
