package client_test

// The TPM anti-rollback store seen from the device (swtpm per test): the
// hardware epoch cannot be lowered by any edit of the state directory,
// survives a TPM restart, fails closed after a TPM clear or when the TPM
// is unreachable (with the documented recovery), and still lets a signed
// revocation step down once.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/anti_rollback/tpmstore"
	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
)

// publishEpoch publishes model@v and sets its signed rollback epoch, as
// mrepo add-target does.
func publishEpoch(t testing.TB, r *testrepo.Repo, v string, epoch uint64) {
	t.Helper()
	publish(t, r, smallSize, v)
	setEpoch(t, r, v, epoch)
}

func setEpoch(t testing.TB, r *testrepo.Repo, v string, epoch uint64) {
	t.Helper()
	if _, err := r.R.ChangeControls(model, v, r.Keys, func(rv *rollout.Version) error { rv.Custom.Epoch = epoch; return nil }); err != nil {
		t.Fatal(err)
	}
}

// tpmDevice is a device whose state directory names the swtpm as its
// anti-rollback store, with 1.3.0 (epoch 1) then 1.4.0 (epoch 2)
// installed and confirmed.
func tpmDevice(t *testing.T) (*testrepo.Repo, *server, *device, *backendtest.SWTPM) {
	t.Helper()
	sw := backendtest.StartSWTPM(t)
	r := newRepo(t)
	publishEpoch(t, r, "1.3.0", 1)
	srv := serveRepo(t, r)
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, AntiRollback: "tpm:" + sw.Socket}, fastOpts())
	d.mustUpdate("1.3.0")
	d.wantEpoch(sw, 1)
	publishEpoch(t, r, "1.4.0", 2)
	d.mustUpdate("1.4.0")
	d.wantEpoch(sw, 2)
	srv.reset()
	return r, srv, d, sw
}

func (d *device) wantEpoch(sw *backendtest.SWTPM, want uint64) {
	d.t.Helper()
	got, err := tpmstore.New(sw.Socket, d.path("anti-rollback")).Epoch(model)
	if err != nil || got != want {
		d.t.Fatalf("hardware epoch %d (%v), want %d", got, err, want)
	}
}

const revokedAt = "2026-06-01T10:00:00Z"

// wantFailClosed updates and requires ANTI_ROLLBACK_UNAVAILABLE, with
// active.json still naming active (status itself fails closed).
func (d *device) wantFailClosed(active string) {
	d.t.Helper()
	res, err := d.update(client.UpdateRequest{})
	if client.CodeOf(err) != client.AntiRollbackUnavailable || res.Outcome != client.OutcomeFailed {
		d.t.Fatalf("update: %v %+v, want ANTI_ROLLBACK_UNAVAILABLE", err, res)
	}
	var ptr struct{ Version string }
	data, err := os.ReadFile(d.path("models", model, "active.json"))
	if err != nil || json.Unmarshal(data, &ptr) != nil || ptr.Version != active {
		d.t.Fatalf("active.json %s (%v), want %s", data, err, active)
	}
	d.wantInstalledIntact(active)
}

func (d *device) markBad(versions ...string) {
	d.t.Helper()
	data, _ := json.Marshal(map[string]any{"bad_versions": versions})
	if err := os.WriteFile(d.path("models", model, "state.json"), data, 0o600); err != nil {
		d.t.Fatal(err)
	}
}

func (d *device) writePointer(v, previous string) {
	d.t.Helper()
	data, _ := json.Marshal(map[string]any{"model_id": model, "version": v, "previous": previous, "activated_at": "2026-01-01T00:00:00Z"})
	if err := os.WriteFile(d.path("models", model, "active.json"), data, 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// TestTPMFloorSurvivesStateEdits: with 1.3.0 (epoch 1) then 1.4.0 (epoch
// 2) confirmed, no deletion or edit of the state directory gets 1.3.0
// activated by the client: an explicit rollback is ROLLBACK_REJECTED with
// the active version unchanged, with the file floors deleted or lowered;
// with the floors and active.json deleted and 1.4.0 marked bad, the update
// refuses 1.3.0 and downloads nothing; the hardware epoch stays 2.
func TestTPMFloorSurvivesStateEdits(t *testing.T) {
	t.Parallel()
	_, srv, d, sw := tpmDevice(t)
	// The explicit rollback (active.json names 1.3.0 as the previous
	// version), with the anti-rollback files deleted, then lowered.
	for _, edit := range []func(){
		func() { os.RemoveAll(d.path("anti-rollback")) },
		func() { os.MkdirAll(d.path("anti-rollback"), 0o700); d.writeFloor("1.0.0") },
	} {
		edit()
		_, err := d.c.Rollback(model)
		if client.CodeOf(err) != client.RollbackRejected {
			t.Fatalf("rollback to 1.3.0: %v, want ROLLBACK_REJECTED", err)
		}
		d.wantActive("1.4.0")
		d.wantEpoch(sw, 2)
	}
	// Everything deleted, and 1.4.0 marked bad: update refuses 1.3.0
	// (below the hardware epoch), activates nothing, downloads nothing.
	os.RemoveAll(d.path("anti-rollback"))
	os.Remove(d.path("models", model, "active.json"))
	d.markBad("1.4.0")
	srv.reset()
	res, err := d.update(client.UpdateRequest{})
	if err == nil || res.Version == "1.3.0" {
		t.Fatalf("update after the edits: %v %+v", err, res)
	}
	if got := srv.requests("/targets/"); len(got) != 0 {
		t.Fatalf("downloaded %v", got)
	}
	if _, err := os.Stat(d.path("models", model, "active.json")); err == nil {
		t.Fatal("a version was activated")
	}
	d.wantEpoch(sw, 2)
	// The pointer moved back by hand to 1.3.0: the next update does not
	// keep it (1.4.0 is newer and the epoch admits it).
	d.markBad()
	d.writePointer("1.3.0", "")
	d.mustUpdate("1.4.0")
	d.wantEpoch(sw, 2)
}

// TestTPMEpochSurvivesRestart: a TPM restart (a device reboot) keeps the
// epoch; the explicit rollback is still refused and updates carry on.
func TestTPMEpochSurvivesRestart(t *testing.T) {
	t.Parallel()
	r, _, d, sw := tpmDevice(t)
	sw.Restart(t)
	d.wantEpoch(sw, 2)
	if _, err := d.c.Rollback(model); client.CodeOf(err) != client.RollbackRejected {
		t.Fatalf("rollback after a restart: %v", err)
	}
	// Skipping releases: 1.5.0 has epoch 5 (4 increments in one update).
	publishEpoch(t, r, "1.5.0", 5)
	d.mustUpdate("1.5.0")
	d.wantEpoch(sw, 5)
}

// TestTPMClearFailsClosed: after TPM2_Clear every update and status fails
// with ANTI_ROLLBACK_UNAVAILABLE and the active version stays; the
// documented recovery (tpmstore Reprovision, which mclient init
// --reprovision runs) starts new counters, and the next update raises the
// epoch back to the active version's.
func TestTPMClearFailsClosed(t *testing.T) {
	t.Parallel()
	r, srv, d, sw := tpmDevice(t)
	sw.Clear(t)
	publishEpoch(t, r, "1.5.0", 3)
	d.wantFailClosed("1.4.0")
	if _, err := d.c.Status(model); client.CodeOf(err) != client.AntiRollbackUnavailable {
		t.Fatalf("status after a clear: %v", err)
	}
	if got := srv.requests("/targets/"); len(got) != 0 {
		t.Fatalf("downloaded %v", got)
	}

	fresh, err := tpmstore.New(sw.Socket, d.path("anti-rollback")).Reprovision()
	if err != nil || len(fresh) != 1 || fresh[0] != model {
		t.Fatalf("reprovision: %v %v", fresh, err)
	}
	d.wantEpoch(sw, 0)
	d.mustUpdate("1.5.0")
	d.wantEpoch(sw, 3)
	if _, err := d.c.Rollback(model); client.CodeOf(err) != client.RollbackRejected {
		t.Fatalf("rollback after the recovery: %v", err)
	}
}

// TestTPMUnreachableFailsClosed: a TPM that does not answer, or a store
// given in Options at a path that is no TPM, fails every update with
// ANTI_ROLLBACK_UNAVAILABLE: never a fallback to the file floors.
func TestTPMUnreachableFailsClosed(t *testing.T) {
	t.Parallel()
	r, srv, d, sw := tpmDevice(t)
	publishEpoch(t, r, "1.5.0", 3)
	sw.Stop()
	d.wantFailClosed("1.4.0")
	if got := srv.requests("/targets/"); len(got) != 0 {
		t.Fatalf("downloaded %v", got)
	}
	o := fastOpts()
	o.AntiRollback = tpmstore.New(filepath.Join(t.TempDir(), "no-tpm"), d.path("anti-rollback"))
	d.reopen(o)
	d.wantFailClosed("1.4.0")
}

// TestTPMRevocationStepsDown: a signed revocation of 1.4.0 (the only
// version of epoch 2) steps the device down to 1.3.0 although the
// hardware epoch stays 2; a later release raises it again. Without the
// revocation of every version of the epochs between, no step is taken.
func TestTPMRevocationStepsDown(t *testing.T) {
	t.Parallel()
	r, _, d, sw := tpmDevice(t)
	r.SetControls(t, model, "1.4.0", nil, &targets.Revocation{Reason: "bad weights", Time: revokedAt}, nil)
	res := d.mustUpdate("1.3.0")
	if res.Outcome != client.OutcomeRolledBack {
		t.Fatalf("%+v", res)
	}
	d.wantEpoch(sw, 2)
	d.mustUpdate("1.3.0") // stays: the step is allowed while 1.4.0 is revoked
	publishEpoch(t, r, "1.5.0", 3)
	d.mustUpdate("1.5.0")
	d.wantEpoch(sw, 3)

	// 1.5.0 revoked, but 1.4.0 (epoch 2) is live again: 1.3.0 (epoch 1)
	// is not admitted; the device steps to 1.4.0... which is epoch 2 < 3,
	// admitted because every version of epoch 3 is revoked.
	r.SetControls(t, model, "1.4.0", nil, nil, nil)
	r.SetControls(t, model, "1.5.0", nil, &targets.Revocation{Reason: "worse", Time: revokedAt}, nil)
	d.mustUpdate("1.4.0")
	d.wantEpoch(sw, 3)
	// 1.4.0 revoked too: 1.3.0 is now admitted (epochs 2 and 3 entirely
	// revoked).
	r.SetControls(t, model, "1.4.0", nil, &targets.Revocation{Reason: "also bad", Time: revokedAt}, nil)
	d.mustUpdate("1.3.0")
	d.wantEpoch(sw, 3)
}
