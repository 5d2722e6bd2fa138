package client_test

// The device side of the signed rollout controls: cohorts, the kill
// switch, eligibility, against real repositories whose controls are set
// by testrepo.SetControls (repo.ChangeControls, what mrepo rollout/revoke
// run).

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/anti_rollback"
	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

const rolloutSize = 2048

var rolloutNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func rolloutOpts() client.Options {
	o := fastOpts()
	o.Now = func() time.Time { return rolloutNow }
	return o
}

// payloadRequests counts the requests for any file of version v.
func payloadRequests(s *server, v string) int {
	return len(s.requests("/targets/models/" + model + "/" + v + "/"))
}

func floorOf(t *testing.T, d *device) string {
	t.Helper()
	v, ok, err := anti_rollback.NewFileStore(d.path("anti-rollback")).Floor(model)
	if err != nil || !ok {
		t.Fatalf("floor: %v %v", ok, err)
	}
	return v.String()
}

func skippedCode(res *client.Result, v string) client.Code {
	for _, s := range res.Skipped {
		if s.Version == v {
			return s.Code
		}
	}
	return ""
}

func eventsNamed(d *device, name string) []client.Event {
	var out []client.Event
	for _, e := range d.events() {
		if e.Event == name {
			out = append(out, e)
		}
	}
	return out
}

// TestRolloutFleetHalt: a simulated fleet of devices, each with its own
// state directory and device ID, runs the real update against one
// repository. 1.1.0 goes out at 5%: exactly the devices whose bucket
// (targets.Bucket of the version's salt and their ID) is below 500 take
// it, the others take 1.0.0 and list 1.1.0 as COHORT_EXCLUDED. After a
// halt no other device takes it, new devices included, and the ones
// that have it keep it; raising the rollout only adds devices. No event
// names a device ID.
func TestRolloutFleetHalt(t *testing.T) {
	t.Parallel()
	fleet := 200
	if testing.Short() {
		fleet = 60
	}
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0", "1.1.0")
	salt := "fleet-salt-1"
	r.SetControls(t, model, "1.1.0", &targets.Rollout{BasisPoints: 500, Salt: salt}, nil, nil)
	srv := serveRepo(t, r)

	id := func(i int) string { return fmt.Sprintf("cam-%05d", i) }
	devs := make([]*device, fleet)
	results := make([]*client.Result, fleet)
	runAll := func(ds []*device) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 2)
		for i, d := range ds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				res, err := d.c.Update(t.Context(), client.UpdateRequest{ModelID: model, Force: true})
				if err != nil {
					t.Errorf("device %d: %v", i, err)
				}
				results[i] = res
			}()
		}
		wg.Wait()
	}
	for i := range devs {
		devs[i] = newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, DeviceID: id(i), DeviceClass: "cam"}, rolloutOpts())
	}
	runAll(devs)
	took := 0
	for i, d := range devs {
		admitted := targets.Bucket(salt, id(i)) < 500
		want := "1.0.0"
		if admitted {
			want = "1.1.0"
			took++
		} else if c := skippedCode(results[i], "1.1.0"); c != client.CohortExcluded {
			t.Fatalf("device %d: 1.1.0 skipped with %q, want COHORT_EXCLUDED", i, c)
		}
		if results[i].Version != want {
			t.Fatalf("device %d (bucket %d): active %s, want %s", i, targets.Bucket(salt, id(i)), results[i].Version, want)
		}
		if !admitted && len(eventsNamed(d, client.EventCohortExcluded)) != 1 {
			t.Fatalf("device %d: cohort_excluded events %v", i, eventNames(d.events()))
		}
		log, _ := os.ReadFile(d.path("events.jsonl"))
		if strings.Contains(string(log), id(i)) {
			t.Fatalf("device %d: the event log names the device ID", i)
		}
	}
	if took == 0 || took > fleet/5 {
		t.Fatalf("%d of %d devices took 1.1.0 at 5%%", took, fleet)
	}
	t.Logf("%d of %d devices took 1.1.0 at 5%%", took, fleet)

	// Halt: nobody else takes it (a fresh device neither), nobody loses it.
	r.SetControls(t, model, "1.1.0", &targets.Rollout{BasisPoints: 0, Salt: salt, HaltReason: "crash loop on cam"}, nil, nil)
	fresh := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, DeviceID: "cam-fresh", DeviceClass: "cam"}, rolloutOpts())
	all := append(slices.Clone(devs), fresh)
	results = make([]*client.Result, len(all))
	srv.reset()
	runAll(all)
	after := 0
	for i, res := range results {
		if res.Version == "1.1.0" {
			after++
		}
		had := i < fleet && targets.Bucket(salt, id(i)) < 500
		if had != (res.Version == "1.1.0") {
			t.Fatalf("device %d after the halt: active %s (had 1.1.0: %v)", i, res.Version, had)
		}
		if !had && !strings.Contains(res.Skipped[0].Reason, "halted: crash loop on cam") {
			t.Fatalf("device %d: skipped %+v", i, res.Skipped)
		}
	}
	if after != took || payloadRequests(srv, "1.1.0") != 0 {
		t.Fatalf("after the halt %d devices run 1.1.0 (were %d), %d requests for its files", after, took, payloadRequests(srv, "1.1.0"))
	}

	// Raising to 50% with the same salt only adds devices.
	r.SetControls(t, model, "1.1.0", &targets.Rollout{BasisPoints: 5000, Salt: salt}, nil, nil)
	results = make([]*client.Result, fleet)
	runAll(devs)
	for i, res := range results {
		want := targets.Bucket(salt, id(i)) < 5000
		if (res.Version == "1.1.0") != want {
			t.Fatalf("device %d at 50%%: active %s", i, res.Version)
		}
	}
}

// TestRolloutDeviceClassStartAndNoID: the rollout's device classes and
// start time gate the version, judged by the injected clock; a device
// without an ID is admitted by a full release only.
func TestRolloutDeviceClassStartAndNoID(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0", "1.1.0")
	srv := serveRepo(t, r)
	cam := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, DeviceID: "a", DeviceClass: "cam"}, rolloutOpts())
	door := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, DeviceID: "a", DeviceClass: "door"}, rolloutOpts())
	noID := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, DeviceClass: "cam"}, rolloutOpts())
	later := rolloutNow.Add(time.Hour).Format(time.RFC3339)
	r.SetControls(t, model, "1.1.0", &targets.Rollout{BasisPoints: 10000, Salt: "s", DeviceClasses: []string{"cam"}, Start: later}, nil, nil)
	for _, d := range []*device{cam, door, noID} {
		res := d.mustUpdate("1.0.0")
		if skippedCode(res, "1.1.0") != client.CohortExcluded || !strings.Contains(res.Skipped[0].Reason, "starts at "+later) {
			t.Fatalf("before the start: %+v", res.Skipped)
		}
	}
	rolloutNow := rolloutNow.Add(2 * time.Hour)
	for _, d := range []*device{cam, door, noID} {
		o := rolloutOpts()
		o.Now = func() time.Time { return rolloutNow }
		d.reopen(o)
	}
	cam.mustUpdate("1.1.0")
	noID.mustUpdate("1.1.0") // a full release admits a device without an ID
	if res := door.mustUpdate("1.0.0"); !strings.Contains(res.Skipped[0].Reason, "limited to device classes cam, not door") {
		t.Fatalf("door: %+v", res.Skipped)
	}
	r.Publish(t, model, "1.2.0", bundle(seedOf("1.2.0"), rolloutSize), targets.Compat{})
	r.SetControls(t, model, "1.2.0", &targets.Rollout{BasisPoints: 9999, Salt: "s"}, nil, nil)
	if res := noID.mustUpdate("1.1.0"); skippedCode(res, "1.2.0") != client.CohortExcluded || !strings.Contains(res.Skipped[0].Reason, "no device ID") {
		t.Fatalf("no ID: %+v", res.Skipped)
	}
}

// TestRevokeActiveStepsDownToInstalled: the active version is revoked;
// the device goes back to the previous installed version (re-verified,
// nothing downloaded), the floor steps down exactly from the revoked
// version to it, the revoked copy is discarded, and an unrevoke (itself
// a signed change) lets the device take it again.
func TestRevokeActiveStepsDownToInstalled(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0")
	srv := serveRepo(t, r)
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, DeviceID: "dev-1"}, rolloutOpts())
	d.mustUpdate("1.0.0")
	publish(t, r, rolloutSize, "1.1.0")
	d.mustUpdate("1.1.0")
	if f := floorOf(t, d); f != "1.1.0" {
		t.Fatalf("floor %s", f)
	}
	// Revoking a version that is not active changes nothing.
	r.SetControls(t, model, "1.0.0", nil, &targets.Revocation{Reason: "old bug", Time: "2026-06-01T10:00:00Z"}, nil)
	d.mustUpdate("1.1.0")
	if f := floorOf(t, d); f != "1.1.0" {
		t.Fatalf("floor %s after revoking an inactive version", f)
	}
	r.SetControls(t, model, "1.0.0", nil, nil, nil)
	// 1.0.0 was discarded (revoked, not active): republished here only
	// through its unrevoke, it must download again below the floor: it
	// cannot. Give the device a second installed version to go back to.
	publish(t, r, rolloutSize, "1.2.0")
	d.mustUpdate("1.2.0")

	srv.reset()
	r.SetControls(t, model, "1.2.0", nil, &targets.Revocation{Reason: "bad outputs", Time: "2026-06-01T11:00:00Z"}, nil)
	res, err := d.update(client.UpdateRequest{})
	if err != nil || res.Outcome != client.OutcomeRolledBack || res.Version != "1.1.0" || res.FromVersion != "1.2.0" || res.BytesDownloaded != 0 {
		t.Fatalf("update after the revocation: %v %+v", err, res)
	}
	d.wantActive("1.1.0")
	if f := floorOf(t, d); f != "1.1.0" {
		t.Fatalf("floor %s, want 1.1.0", f)
	}
	if n := len(srv.requests("/targets/")); n != 0 {
		t.Fatalf("%d target requests", n)
	}
	ev := eventsNamed(d, client.EventRevokedRollback)
	if len(ev) != 1 || ev[0].FromVersion != "1.2.0" || ev[0].ToVersion != "1.1.0" || ev[0].Code != client.Revoked || ev[0].Reason != "bad outputs" {
		t.Fatalf("revoked_rollback events %+v", ev)
	}
	if _, err := os.Stat(d.path("models", model, "1.2.0")); !os.IsNotExist(err) {
		t.Fatalf("the revoked 1.2.0 is still installed: %v", err)
	}
	// Stable: the next run is up to date and skips 1.2.0 as REVOKED.
	res = d.mustUpdate("1.1.0")
	if res.Outcome != client.OutcomeUpToDate || skippedCode(res, "1.2.0") != client.Revoked {
		t.Fatalf("next run %+v", res)
	}
	// Unrevoke: a signed change; the device takes 1.2.0 again.
	r.SetControls(t, model, "1.2.0", nil, nil, nil)
	d.mustUpdate("1.2.0")
	if f := floorOf(t, d); f != "1.2.0" {
		t.Fatalf("floor %s after the unrevoke", f)
	}
}

// TestRevokeActiveDownloadsPrevious: a device whose only version is
// revoked downloads the newest eligible non-revoked version below it
// (the step down goes below its floor), and a device whose revoked
// version has no replacement keeps it, with REVOKED.
func TestRevokeActiveDownloadsPrevious(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0", "1.1.0", "1.2.0")
	r.SetControls(t, model, "1.1.0", &targets.Rollout{BasisPoints: 0, Salt: "s", HaltReason: "never out"}, nil, nil)
	srv := serveRepo(t, r)
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, DeviceID: "dev-1"}, rolloutOpts())
	d.mustUpdate("1.2.0")
	srv.reset()
	r.SetControls(t, model, "1.2.0", nil, &targets.Revocation{Reason: "kill", Time: "2026-06-01T11:00:00Z"}, nil)
	res, err := d.update(client.UpdateRequest{})
	// 1.1.0 is halted (the cohort excludes this device): 1.0.0 it is.
	if err != nil || res.Outcome != client.OutcomeRolledBack || res.Version != "1.0.0" {
		t.Fatalf("%v %+v", err, res)
	}
	d.wantActive("1.0.0")
	if f := floorOf(t, d); f != "1.0.0" {
		t.Fatalf("floor %s", f)
	}
	if payloadRequests(srv, "1.0.0") == 0 || payloadRequests(srv, "1.1.0") != 0 || payloadRequests(srv, "1.2.0") != 0 {
		t.Fatalf("requests %v", srv.requests("/targets/"))
	}

	// Nothing to go back to: the revoked version stays active, REVOKED.
	r2 := newRepo(t)
	publish(t, r2, rolloutSize, "2.0.0")
	srv2 := serveRepo(t, r2)
	d2 := newDeviceInit(t, r2, client.InitOptions{RepoURL: srv2.URL, DeviceID: "dev-2"}, rolloutOpts())
	d2.mustUpdate("2.0.0")
	r2.SetControls(t, model, "2.0.0", nil, &targets.Revocation{Reason: "kill", Time: "2026-06-01T11:00:00Z"}, nil)
	d2.wantFail(client.Revoked, "2.0.0")
	if f := floorOf(t, d2); f != "2.0.0" {
		t.Fatalf("floor %s", f)
	}
}

// TestRevokedNeverDownloaded: a version revoked before the device saw it
// is skipped (REVOKED, event revoked) and not one byte of it is
// requested; a version staged (partly downloaded) before its revocation
// is discarded.
func TestRevokedNeverDownloaded(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0")
	srv := serveRepo(t, r)
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, DeviceID: "dev-1"}, rolloutOpts())
	d.mustUpdate("1.0.0")
	publish(t, r, rolloutSize, "1.1.0")
	r.SetControls(t, model, "1.1.0", nil, &targets.Revocation{Reason: "bad", Time: "2026-06-01T11:00:00Z"}, nil)
	// A leftover staged part of 1.1.0, as an earlier interrupted run
	// would leave (the kill test in cmd/mclient kills one for real).
	part := d.path("staging", model, "1.1.0", "model.bin.part")
	if err := os.MkdirAll(filepath.Dir(part), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.reset()
	res := d.mustUpdate("1.0.0")
	if res.Outcome != client.OutcomeUpToDate || skippedCode(res, "1.1.0") != client.Revoked || res.BytesDownloaded != 0 {
		t.Fatalf("%+v", res)
	}
	if n := payloadRequests(srv, "1.1.0"); n != 0 {
		t.Fatalf("%d requests for the revoked version's files", n)
	}
	if _, err := os.Stat(d.path("staging", model, "1.1.0")); !os.IsNotExist(err) {
		t.Fatalf("staged revoked version kept: %v", err)
	}
	if ev := eventsNamed(d, client.EventRevoked); len(ev) == 0 || ev[0].ToVersion != "1.1.0" || ev[0].Code != client.Revoked {
		t.Fatalf("revoked events %+v", ev)
	}
}

// TestForgedRevocationRejected: a revocation signed without the targets
// key (the attacker holds the snapshot and timestamp keys) is refused
// with SIGNATURE_INVALID; the active version and the floor are
// unchanged. A forged un-revocation likewise cannot bring a revoked
// version back.
func TestForgedRevocationRejected(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0", "1.1.0")
	srv := serveRepo(t, r)
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, DeviceID: "dev-1"}, rolloutOpts())
	d.mustUpdate("1.1.0")

	forged := snapshotRepo(t, r)
	s := r.Signers(t)
	s.Targets = freshSigner(t)
	if err := testrepo.ForgeControlsDir(forged, model, "1.1.0", nil, &targets.Revocation{Reason: "forged", Time: "2026-06-01T11:00:00Z"}, nil, s); err != nil {
		t.Fatal(err)
	}
	srv.set(dirHandler(forged))
	d.wantFail(client.SignatureInvalid, "1.1.0")
	if f := floorOf(t, d); f != "1.1.0" {
		t.Fatalf("floor %s", f)
	}
	if len(eventsNamed(d, client.EventRevokedRollback)) != 0 {
		t.Fatal("a forged revocation stepped down")
	}
}

// TestRevocationReplayRejected: after the device acted on a revocation,
// metadata from before it (a mirror replaying it) is refused by TUF
// (ROLLBACK_REJECTED): the device stays on the version it stepped down
// to and never fetches the revoked one again.
func TestRevocationReplayRejected(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0")
	srv := serveRepo(t, r)
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, DeviceID: "dev-1"}, rolloutOpts())
	d.mustUpdate("1.0.0")
	publish(t, r, rolloutSize, "1.1.0")
	d.mustUpdate("1.1.0")
	before := snapshotRepo(t, r)
	r.SetControls(t, model, "1.1.0", nil, &targets.Revocation{Reason: "bad", Time: "2026-06-01T11:00:00Z"}, nil)
	if res, err := d.update(client.UpdateRequest{}); err != nil || res.Version != "1.0.0" {
		t.Fatalf("%v %+v", err, res)
	}
	srv.set(dirHandler(before))
	srv.reset()
	d.wantFail(client.RollbackRejected, "1.0.0")
	if n := payloadRequests(srv, "1.1.0"); n != 0 {
		t.Fatalf("%d requests for the revoked version", n)
	}
	if f := floorOf(t, d); f != "1.0.0" {
		t.Fatalf("floor %s", f)
	}
}

// TestStepDownOnlyFromRevocation: the client calls
// anti_rollback.Store.StepDown in one place only, the revocation
// rollback.
func TestStepDownOnlyFromRevocation(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("*.go")
	var callers []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(data), ".StepDown("); n > 0 {
			callers = append(callers, fmt.Sprintf("%s:%d", f, n))
		}
	}
	if fmt.Sprint(callers) != "[rollout.go:1]" {
		t.Fatalf("StepDown called from %v, want rollout.go (leaveRevoked) only", callers)
	}
}
