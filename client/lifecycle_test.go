package client_test

// The life of an installed model: health checks and automatic rollback,
// versions left on trial by a crash, verification of the files on disk,
// eligibility, file:// repositories, the event log, retention, locking.

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/targets"
)

// healthScript writes a health check that logs its argument to a file and
// runs body; it returns the command and the log's path.
func healthScript(t *testing.T, body string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	logf := filepath.Join(dir, "calls")
	script := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(script, []byte("echo \"$1\" >> '"+logf+"'\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return "/bin/sh " + script, logf
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}

// tail returns the last n events.
func tail(es []client.Event, n int) []client.Event {
	if len(es) < n {
		return es
	}
	return es[len(es)-n:]
}

func TestHealthCheckFailureRollsBack(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	failing, calls := healthScript(t, "echo model broken; exit 1")

	res, err := d.update(client.UpdateRequest{HealthCheck: failing})
	if client.CodeOf(err) != client.HealthcheckFailed {
		t.Fatalf("update: %v", err)
	}
	if res.Outcome != client.OutcomeRolledBack || res.Code != client.HealthcheckFailed || res.Version != "1.0.0" ||
		res.FromVersion != "1.0.0" || res.ToVersion != "1.1.0" || !strings.Contains(res.Message, "model broken") {
		t.Fatalf("result %+v", res)
	}
	if got := readLines(t, calls); len(got) != 1 || got[0] != d.path("models", model, "1.1.0") {
		t.Fatalf("health check called with %q, want the 1.1.0 directory once", got)
	}
	d.wantActive("1.0.0")
	st := d.status()
	if fmt.Sprint(st.BadVersions) != "[1.1.0]" || st.Floor != "1.0.0" {
		t.Fatalf("status %+v: want 1.1.0 bad and the floor not raised", st)
	}
	ev := tail(d.events(), 3)
	if fmt.Sprint(eventNames(ev)) != "[activated rolled_back failed]" {
		t.Fatalf("events %v", eventNames(ev))
	}
	rb := ev[1]
	if rb.Event != client.EventRolledBack || rb.Code != client.RollbackTriggered || rb.FromVersion != "1.1.0" || rb.ToVersion != "1.0.0" {
		t.Fatalf("rolled_back event %+v", rb)
	}
	if ev[2].Code != client.HealthcheckFailed {
		t.Fatalf("failed event %+v", ev[2])
	}

	// The bad version is never retried, even with a passing check.
	srv.reset()
	passing, calls2 := healthScript(t, "exit 0")
	res = d.mustUpdate("1.0.0")
	if res.Outcome != client.OutcomeUpToDate || len(srv.requests("/targets/")) != 0 {
		t.Fatalf("%+v, requests %v", res, srv.requests("/targets/"))
	}
	res, err = d.update(client.UpdateRequest{HealthCheck: passing})
	if err != nil || res.Outcome != client.OutcomeUpToDate || len(readLines(t, calls2)) != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	// A newer version is installed past the bad one.
	publish(t, r, smallSize, "1.2.0")
	res, err = d.update(client.UpdateRequest{HealthCheck: passing})
	if err != nil || res.Version != "1.2.0" || res.FromVersion != "1.0.0" {
		t.Fatalf("%v %+v", err, res)
	}
	d.wantActive("1.2.0")
}

func TestHealthCheckTimeout(t *testing.T) {
	t.Parallel()
	r, _, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	pidFile := filepath.Join(t.TempDir(), "pid")
	hanging, _ := healthScript(t, "sleep 3600 & echo $! > '"+pidFile+"'; wait")
	// The check never ends by itself: only the timeout can end it, however
	// slow the machine.
	res, err := d.update(client.UpdateRequest{HealthCheck: hanging, HealthTimeout: 300 * time.Millisecond})
	if client.CodeOf(err) != client.HealthcheckFailed || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("update: %v", err)
	}
	if res.Version != "1.0.0" || res.Outcome != client.OutcomeRolledBack {
		t.Fatalf("%+v", res)
	}
	d.wantActive("1.0.0")
	// The whole process group was killed, not only the shell.
	pid, err := strconv.Atoi(strings.TrimSpace(string(must(os.ReadFile(pidFile)))))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, fmt.Sprintf("the health check's child %d to be killed with its group", pid), func() bool { return !alive(pid) })
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func TestFirstInstallFailingHealthCheck(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, smallSize, "1.0.0")
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	failing, _ := healthScript(t, "exit 1")
	res, err := d.update(client.UpdateRequest{HealthCheck: failing})
	if client.CodeOf(err) != client.HealthcheckFailed || res.Version != "" || res.Outcome != client.OutcomeRolledBack {
		t.Fatalf("%v %+v", err, res)
	}
	st := d.status()
	if st.Version != "" || fmt.Sprint(st.BadVersions) != "[1.0.0]" || st.Floor != "" {
		t.Fatalf("status %+v", st)
	}
	if _, err := os.Stat(d.path("models", model, "active.json")); !os.IsNotExist(err) {
		t.Fatalf("active.json left behind (%v)", err)
	}
	ev := d.events()
	var rb *client.Event
	for i := range ev {
		if ev[i].Event == client.EventRolledBack {
			rb = &ev[i]
		}
	}
	if rb == nil || rb.FromVersion != "1.0.0" || rb.ToVersion != "" || rb.Code != client.RollbackTriggered {
		t.Fatalf("events %+v", ev)
	}
	if _, err := d.c.Verify(model); client.CodeOf(err) != client.NoActiveModel {
		t.Fatalf("verify: %v", err)
	}
	// Every published version is bad here: nothing to install.
	srv.reset()
	res, err = d.update(client.UpdateRequest{})
	if client.CodeOf(err) != client.PolicyRejected || res.Version != "" || len(srv.requests("/targets/")) != 0 {
		t.Fatalf("%v %+v %v", err, res, srv.requests("/targets/"))
	}
}

// onTrial leaves the device as a crash between activating 1.1.0 and
// confirming it does: the pointer on trial, the floor not yet raised.
func onTrial(t *testing.T) *device {
	t.Helper()
	r, _, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0")
	d.writeFloor("1.0.0")
	ptr := fmt.Sprintf(`{"model_id":%q,"version":"1.1.0","previous":"1.0.0","trial":true,"activated_at":"2026-01-01T00:00:00Z"}`, model)
	if err := os.WriteFile(d.path("models", model, "active.json"), []byte(ptr), 0o600); err != nil {
		t.Fatal(err)
	}
	st := d.status()
	if !st.Trial || st.Version != "1.1.0" || st.Floor != "1.0.0" {
		t.Fatalf("status %+v: a trial version must not count for the floor", st)
	}
	return d
}

func TestTrialLeftByCrash(t *testing.T) {
	t.Parallel()
	t.Run("passes: confirmed", func(t *testing.T) {
		d := onTrial(t)
		passing, calls := healthScript(t, "exit 0")
		res, err := d.update(client.UpdateRequest{HealthCheck: passing})
		if err != nil || res.Version != "1.1.0" || res.Outcome != client.OutcomeUpToDate {
			t.Fatalf("%v %+v", err, res)
		}
		if got := readLines(t, calls); len(got) != 1 || got[0] != d.path("models", model, "1.1.0") {
			t.Fatalf("health check calls %q", got)
		}
		d.wantActive("1.1.0")
		if st := d.status(); st.Floor != "1.1.0" || len(st.BadVersions) != 0 {
			t.Fatalf("status %+v", st)
		}
		if got := d.storedFloors(); got[0] != "1.1.0" || got[1] != "1.1.0" {
			t.Fatalf("stored floors %v", got)
		}
		if !contains(eventNames(d.events()), client.EventConfirmed) {
			t.Fatal("no confirmed event")
		}
	})
	t.Run("fails: rolled back", func(t *testing.T) {
		d := onTrial(t)
		failing, calls := healthScript(t, "exit 1")
		res, err := d.update(client.UpdateRequest{HealthCheck: failing})
		// The update goes on from 1.0.0, finds nothing newer that is not
		// bad, and reports the rollback as its failure.
		if client.CodeOf(err) != client.HealthcheckFailed || res.Outcome != client.OutcomeRolledBack || res.Version != "1.0.0" {
			t.Fatalf("%v %+v", err, res)
		}
		if got := readLines(t, calls); len(got) != 1 {
			t.Fatalf("health check calls %q", got)
		}
		d.wantActive("1.0.0")
		st := d.status()
		if fmt.Sprint(st.BadVersions) != "[1.1.0]" || st.Floor != "1.0.0" {
			t.Fatalf("status %+v", st)
		}
		var rb *client.Event
		for _, e := range d.events() {
			if e.Event == client.EventRolledBack {
				rb = &e
			}
		}
		if rb == nil || rb.FromVersion != "1.1.0" || rb.ToVersion != "1.0.0" || rb.Code != client.RollbackTriggered {
			t.Fatalf("rolled_back event %+v", rb)
		}
	})
	t.Run("files damaged: rolled back", func(t *testing.T) {
		d := onTrial(t)
		// A trial version is re-hashed, not only size-checked.
		flipByte(t, d.path("models", model, "1.1.0", "model.bin"), 10)
		passing, calls := healthScript(t, "exit 0")
		res, err := d.update(client.UpdateRequest{HealthCheck: passing})
		if client.CodeOf(err) != client.HealthcheckFailed || res.Outcome != client.OutcomeRolledBack || res.Version != "1.0.0" {
			t.Fatalf("%v %+v", err, res)
		}
		if got := readLines(t, calls); len(got) != 0 {
			t.Fatalf("health check ran on damaged files: %q", got)
		}
		if st := d.status(); fmt.Sprint(st.BadVersions) != "[1.1.0]" {
			t.Fatalf("status %+v", st)
		}
		d.wantActive("1.0.0")
	})
}

func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tamper func(dir string) error
	}{
		{"changed", func(dir string) error {
			f := filepath.Join(dir, "model.bin")
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			data[len(data)-1] ^= 0x80
			return os.WriteFile(f, data, 0o600)
		}},
		{"truncated", func(dir string) error { return os.Truncate(filepath.Join(dir, "model.bin"), 10) }},
		{"missing", func(dir string) error { return os.Remove(filepath.Join(dir, "labels.txt")) }},
		{"added", func(dir string) error { return os.WriteFile(filepath.Join(dir, "extra.bin"), []byte("x"), 0o600) }},
		{"manifest changed", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, targets.ManifestName), []byte("{}"), 0o600)
		}},
		{"replaced by a directory", func(dir string) error {
			if err := os.Remove(filepath.Join(dir, "labels.txt")); err != nil {
				return err
			}
			return os.Mkdir(filepath.Join(dir, "labels.txt"), 0o700)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, srv, d := onV1(t)
			// Verify works without network.
			srv.set(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				t.Errorf("verify used the network: %s", req.URL.Path)
			}))
			st, err := d.c.Verify(model)
			if err != nil || st.Version != "1.0.0" {
				t.Fatalf("verify before tampering: %v %+v", err, st)
			}
			if err := tc.tamper(st.Path); err != nil {
				t.Fatal(err)
			}
			st, err = d.c.Verify(model)
			if client.CodeOf(err) != client.HashMismatch {
				t.Fatalf("verify: %v", err)
			}
			if st == nil || st.Version != "1.0.0" {
				t.Fatalf("status %+v", st)
			}
		})
	}
}

// TestOfflineChecksAfterRejectedRefresh: a refresh rejected after go-tuf
// persisted a newer timestamp and snapshot (a mirror serving the wrong
// targets file) must not stop the device from verifying what it has
// installed, rolling back to it, or judging a version on trial: they use
// the metadata of the last complete refresh.
func TestOfflineChecksAfterRejectedRefresh(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0")
	// 1.1.0 is on trial, left by a crash (see onTrial).
	d.writeFloor("1.0.0")
	ptr := fmt.Sprintf(`{"model_id":%q,"version":"1.1.0","previous":"1.0.0","trial":true,"activated_at":"2026-01-01T00:00:00Z"}`, model)
	os.WriteFile(d.path("models", model, "active.json"), []byte(ptr), 0o600)

	// Another model's update meets a mirror that has the new snapshot
	// but serves the previous targets file under the new name.
	f := forge(t, r.Dir)
	tv := f.snap.Signed.Meta["targets.json"].Version
	old, err := os.ReadFile(filepath.Join(r.Dir, "metadata", fmt.Sprintf("%d.targets.json", tv)))
	if err != nil {
		t.Fatal(err)
	}
	r.Publish(t, "cls", "1.0.0", bundle(5, smallSize), targets.Compat{})
	inner := dirHandler(r.Dir)
	bad := fmt.Sprintf("/metadata/%d.targets.json", tv+1)
	srv.set(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == bad {
			w.Write(old)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	if _, err := d.c.Update(t.Context(), client.UpdateRequest{ModelID: "cls"}); client.CodeOf(err) != client.MetadataInvalid {
		t.Fatalf("cls update: %v", err)
	}
	if len(srv.requests(bad)) == 0 {
		t.Fatal("the bad targets file was never requested")
	}
	if _, err := d.c.Verify(model); err != nil {
		t.Fatalf("verify after a rejected refresh: %v", err)
	}

	// The trial is judged on its merits: it passes, so it is confirmed,
	// although the update itself then fails on the same mirror.
	passing, calls := healthScript(t, "exit 0")
	res, err := d.update(client.UpdateRequest{HealthCheck: passing})
	if client.CodeOf(err) != client.MetadataInvalid || res.Version != "1.1.0" {
		t.Fatalf("update: %v %+v", err, res)
	}
	if len(readLines(t, calls)) != 1 {
		t.Fatal("the trial's health check did not run")
	}
	st := d.status()
	if st.Trial || len(st.BadVersions) != 0 || st.Floor != "1.1.0" {
		t.Fatalf("status %+v: the trial should have been confirmed", st)
	}
	d.wantActive("1.1.0")

	// And an explicit rollback works too.
	rb, err := d.c.Rollback(model)
	if err != nil || rb.Version != "1.0.0" {
		t.Fatalf("rollback after a rejected refresh: %v %+v", err, rb)
	}
	d.wantActive("1.0.0")
}

func TestIncompatibleDownloadsNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		compat targets.Compat
		dev    client.Device
	}{
		{"platform", targets.Compat{Platforms: []string{"linux/riscv64"}}, client.Device{Platform: "linux/arm64"}},
		{"app version", targets.Compat{MinAppVersion: "2.1"}, client.Device{AppVersion: "2.0.9"}},
		{"app version unknown", targets.Compat{MinAppVersion: "2.1"}, client.Device{}},
		{"runtime", targets.Compat{Runtime: &targets.Runtime{Name: "onnxruntime", MinVersion: "1.17"}}, client.Device{Runtime: "onnxruntime", RuntimeVersion: "1.16.3"}},
		{"runtime name", targets.Compat{Runtime: &targets.Runtime{Name: "onnxruntime"}}, client.Device{Runtime: "tflite", RuntimeVersion: "2.14"}},
		{"variant", targets.Compat{Variant: "lite"}, client.Device{Variant: "full"}},
		{"input schema", targets.Compat{InputSchemaHash: strings.Repeat("ab", 32)}, client.Device{InputSchemaHash: "sha256:" + strings.Repeat("cd", 32)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t)
			r.Publish(t, model, "1.0.0", bundle(1, smallSize), tc.compat)
			srv := serveRepo(t, r)
			d := newDevice(t, r, srv.URL, fastOpts())
			res, err := d.update(client.UpdateRequest{Device: tc.dev})
			if client.CodeOf(err) != client.Incompatible || res.Version != "" || res.BytesDownloaded != 0 {
				t.Fatalf("%v %+v", err, res)
			}
			if len(srv.requests("/metadata/timestamp.json")) == 0 {
				t.Fatal("the repository was not consulted")
			}
			if got := srv.requests("/targets/"); len(got) != 0 {
				t.Fatalf("target files requested for an incompatible version: %v", got)
			}
			if _, err := os.Stat(d.path("staging", model)); !os.IsNotExist(err) {
				t.Fatalf("staging created (%v)", err)
			}
		})
	}
}

func TestEligibilityPicksNewestCompatible(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.Publish(t, model, "1.0.0", bundle(1, smallSize), targets.Compat{})
	r.Publish(t, model, "1.1.0", bundle(2, smallSize), targets.Compat{MinAppVersion: "2.0"})
	r.Publish(t, model, "1.2.0", bundle(3, smallSize), targets.Compat{MinAppVersion: "3.0"})
	r.Publish(t, model, "1.3.0", bundle(4, smallSize), targets.Compat{Platforms: []string{"plan9/amd64"}})
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())

	res, err := d.update(client.UpdateRequest{Device: client.Device{AppVersion: "2.5", Platform: "linux/arm64"}})
	if err != nil || res.Version != "1.1.0" {
		t.Fatalf("%v %+v", err, res)
	}
	for _, rq := range srv.requests("/targets/") {
		if !strings.HasPrefix(rq.Path, "/targets/models/det/1.1.0/") {
			t.Fatalf("requested %s: only 1.1.0's files should be fetched", rq.Path)
		}
	}
	// Newer versions exist and none is eligible: up to date on 1.1.0,
	// each newer version listed with its reason.
	res, err = d.update(client.UpdateRequest{Device: client.Device{AppVersion: "2.5", Platform: "linux/arm64"}})
	if err != nil || res.Outcome != client.OutcomeUpToDate || res.Version != "1.1.0" {
		t.Fatalf("%v %+v", err, res)
	}
	if got := fmt.Sprint(res.Skipped); got != "[{1.3.0 INCOMPATIBLE det 1.3.0: built for plan9/amd64, device is linux/arm64} {1.2.0 INCOMPATIBLE det 1.2.0: needs app >= 3.0, device has 2.5}]" {
		t.Fatalf("skipped %s", got)
	}
	// A newer app makes 1.2.0 eligible (1.3.0 still is not).
	res, err = d.update(client.UpdateRequest{Device: client.Device{AppVersion: "3.0.1", Platform: "linux/arm64"}})
	if err != nil || res.Version != "1.2.0" {
		t.Fatalf("%v %+v", err, res)
	}
	d.wantActive("1.2.0")
}

func TestFileURLRepository(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, bigSize, "1.0.0")
	d := newDevice(t, r, "file://"+r.Dir, fastOpts())
	d.mustUpdate("1.0.0")
	d.wantActive("1.0.0")
	old := snapshotRepo(t, r)

	publish(t, r, bigSize, "1.1.0")
	file := r.TargetFile(t, targets.TargetPath(model, "1.1.0", "model.bin"))
	flipByte(t, file, 5)
	d.wantFail(client.HashMismatch, "1.0.0")
	d.wantNotInstalled("1.1.0")
	flipByte(t, file, 5)

	// A genuine prefix left by an earlier run is resumed.
	genuine, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(d.path("staging", model, "1.1.0"), 0o700)
	os.WriteFile(d.path("staging", model, "1.1.0", "model.bin.part"), genuine[:bigSize/3], 0o600)
	res := d.mustUpdate("1.1.0")
	if res.BytesResumed < bigSize/3 || res.BytesDownloaded >= bigSize {
		t.Fatalf("%+v: the staged prefix was not resumed", res)
	}
	d.wantActive("1.1.0")

	// Replaying the older repository in place is refused.
	cur := r.Dir + ".new"
	if err := os.Rename(r.Dir, cur); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(old, r.Dir); err != nil {
		t.Fatal(err)
	}
	res, err = d.update(client.UpdateRequest{})
	if client.CodeOf(err) != client.RollbackRejected || res.Version != "1.1.0" {
		t.Fatalf("replayed: %v %+v", err, res)
	}
	os.Rename(r.Dir, old)
	os.Rename(cur, r.Dir)
	d.wantActive("1.1.0")

	// Expired metadata is refused the same way.
	opts := fastOpts()
	opts.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	d.reopen(opts)
	d.wantFail(client.MetadataExpired, "1.1.0")
}

func TestEventLog(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, smallSize, "1.0.0")
	srv := serveRepo(t, r)
	const secret = "device-SECRET-4242"
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	opts := fastOpts()
	opts.Now = func() time.Time { return clock }
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, DeviceID: secret, DeviceClass: "cam/v2"}, opts)

	step := func(want string, req client.UpdateRequest) *client.Result {
		t.Helper()
		before := len(d.events())
		res, _ := d.update(req)
		got := d.events()[before:]
		if fmt.Sprint(eventNames(got)) != want {
			t.Fatalf("events %v, want %s", eventNames(got), want)
		}
		for _, e := range got {
			if e.ModelID != model || e.DeviceClass != "cam/v2" || e.Time != "2026-03-01T12:00:00Z" {
				t.Fatalf("event %+v", e)
			}
			if e.Event == client.EventDownloaded && e.Bytes != res.BytesDownloaded {
				t.Fatalf("downloaded event says %d bytes, result %d", e.Bytes, res.BytesDownloaded)
			}
		}
		return res
	}
	step("[checked downloaded verified activated confirmed]", client.UpdateRequest{})
	step("[checked up_to_date]", client.UpdateRequest{})
	publish(t, r, smallSize, "1.1.0")
	flipByte(t, r.TargetFile(t, targets.TargetPath(model, "1.1.0", "model.bin")), 1)
	step("[checked failed backoff]", client.UpdateRequest{}) // the failure schedules the next attempt
	flipByte(t, r.TargetFile(t, targets.TargetPath(model, "1.1.0", "model.bin")), 1)
	failing, _ := healthScript(t, "exit 1")
	step("[checked downloaded verified activated rolled_back failed]", client.UpdateRequest{HealthCheck: failing})

	ev := d.events()
	if got := ev[len(ev)-1]; got.Code != client.HealthcheckFailed || got.FromVersion != "1.0.0" || got.ToVersion != "1.1.0" {
		t.Fatalf("failed event %+v", got)
	}
	log, err := os.ReadFile(d.path("events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), secret) {
		t.Fatal("the event log contains the device ID")
	}
	if n := strings.Count(string(log), "\n"); n != len(ev) {
		t.Fatalf("%d lines for %d events", n, len(ev))
	}
}

func TestRetention(t *testing.T) {
	t.Parallel()
	r, _, d := onV1(t)
	for i, tc := range []struct {
		keep      int
		installed string
	}{
		{0, "[1.0.0 1.1.0]"}, // default 2: the active and the previous one
		{2, "[1.1.0 1.2.0]"},
		{3, "[1.1.0 1.2.0 1.3.0]"},
		{1, "[1.4.0]"},
	} {
		v := fmt.Sprintf("1.%d.0", i+1)
		publish(t, r, smallSize, v)
		res, err := d.update(client.UpdateRequest{Keep: tc.keep})
		if err != nil || res.Version != v {
			t.Fatalf("%v %+v", err, res)
		}
		if got := fmt.Sprint(d.status().Installed); got != tc.installed {
			t.Fatalf("keep %d: installed %s, want %s", tc.keep, got, tc.installed)
		}
	}
	// Argument errors come with a Result too, like every other failure.
	res, err := d.c.Update(t.Context(), client.UpdateRequest{ModelID: model, Keep: -1})
	if client.CodeOf(err) != client.StateInvalid || res == nil || res.Outcome != client.OutcomeFailed || res.Code != client.StateInvalid {
		t.Fatalf("keep -1: %v %+v", err, res)
	}
	res, err = d.c.Update(t.Context(), client.UpdateRequest{ModelID: "../etc"})
	if client.CodeOf(err) != client.TargetNotFound || res == nil || res.Code != client.TargetNotFound {
		t.Fatalf("bad model id: %v %+v", err, res)
	}
	d.wantActive("1.4.0")
}

// TestBadVersionNotKept: a version that failed its health check is
// removed at once, not kept as one of the --keep versions.
func TestBadVersionNotKept(t *testing.T) {
	t.Parallel()
	r, _, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0")
	publish(t, r, smallSize, "1.2.0")
	failing, _ := healthScript(t, "exit 1")
	if _, err := d.update(client.UpdateRequest{HealthCheck: failing, Keep: 3}); client.CodeOf(err) != client.HealthcheckFailed {
		t.Fatalf("update: %v", err)
	}
	if got := fmt.Sprint(d.status().Installed); got != "[1.0.0 1.1.0]" {
		t.Fatalf("installed %s: the bad 1.2.0 should be gone", got)
	}
	d.wantActive("1.1.0")
}

// TestUpToDateRepairsDamagedActive: an up-to-date device whose active copy
// lost a file or changed size downloads the version again; one whose copy
// is intact downloads nothing.
func TestUpToDateRepairsDamagedActive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		damage func(dir string) error
	}{
		{"file removed", func(dir string) error { return os.Remove(filepath.Join(dir, "model.bin")) }},
		{"file truncated", func(dir string) error { return os.Truncate(filepath.Join(dir, "model.bin"), 3) }},
		{"file added", func(dir string) error { return os.WriteFile(filepath.Join(dir, "extra.py"), []byte("x"), 0o600) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, srv, d := onV1(t)
			srv.reset()
			res := d.mustUpdate("1.0.0")
			if res.Outcome != client.OutcomeUpToDate || res.BytesDownloaded != 0 || len(srv.requests("/targets/")) != 0 {
				t.Fatalf("intact: %+v, requests %v", res, srv.requests("/targets/"))
			}
			if err := tc.damage(d.path("models", model, "1.0.0")); err != nil {
				t.Fatal(err)
			}
			res = d.mustUpdate("1.0.0")
			if res.Outcome != client.OutcomeRepaired || res.BytesDownloaded == 0 {
				t.Fatalf("damaged: %+v", res)
			}
			d.wantActive("1.0.0")
			if !contains(eventNames(d.events()), client.EventRepaired) {
				t.Fatalf("no repaired event: %v", eventNames(d.events()))
			}
			if entries, _ := os.ReadDir(d.path("models", model)); len(entries) == 0 {
				t.Fatal("model directory empty")
			} else {
				for _, e := range entries {
					if strings.HasPrefix(e.Name(), ".") {
						t.Fatalf("left %s behind", e.Name())
					}
				}
			}
		})
	}
}

// TestUnpublishedModelLeavesNoState: asking for a model the repository
// does not publish fails without creating state for it.
func TestUnpublishedModelLeavesNoState(t *testing.T) {
	t.Parallel()
	_, _, d := onV1(t)
	res, err := d.update(client.UpdateRequest{ModelID: "no-such-model"})
	if client.CodeOf(err) != client.TargetNotFound || res.Code != client.TargetNotFound {
		t.Fatalf("%v %+v", err, res)
	}
	if _, err := os.Stat(d.path("models", "no-such-model")); !os.IsNotExist(err) {
		t.Fatalf("state created for an unpublished model (%v)", err)
	}
	if ids, err := d.c.Models(); err != nil || fmt.Sprint(ids) != "["+model+"]" {
		t.Fatalf("models %v %v", ids, err)
	}
}

// TestConcurrentUpdateRefused: a second process is refused (BUSY, with
// the holder's PID) while the first holds the state lock.
func TestConcurrentUpdateRefused(t *testing.T) {
	t.Parallel()
	r, _, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	gate := t.TempDir()
	waiting, _ := healthScript(t, "touch '"+gate+"/started'; while [ ! -f '"+gate+"/release' ]; do sleep 0.02; done")
	done := make(chan error, 1)
	go func() {
		_, err := d.c.Update(t.Context(), client.UpdateRequest{ModelID: model, HealthCheck: waiting})
		done <- err
	}()
	waitFor(t, "the first update to reach its health check", func() bool {
		_, err := os.Stat(filepath.Join(gate, "started"))
		return err == nil
	})
	other, err := client.Open(d.dir, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	// BUSY, naming the holder's PID (this process: flock locks an open
	// file, so a second Client contends like a second process).
	pid := fmt.Sprintf("(PID %d)", os.Getpid())
	if _, err := other.Update(t.Context(), client.UpdateRequest{ModelID: model}); client.CodeOf(err) != client.Busy || !strings.Contains(err.Error(), pid) {
		t.Errorf("second update while locked: %v, want BUSY naming %s", err, pid)
	}
	if _, err := other.Rollback(model); client.CodeOf(err) != client.Busy || !strings.Contains(err.Error(), pid) {
		t.Errorf("rollback while locked: %v, want BUSY naming %s", err, pid)
	}
	os.WriteFile(filepath.Join(gate, "release"), nil, 0o600)
	if err := <-done; err != nil {
		t.Fatalf("first update: %v", err)
	}
	d.wantActive("1.1.0")
}
