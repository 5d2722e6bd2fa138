package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/killtest"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

// TestKillRollout kills `mclient update` (SIGKILL, at crash points) in
// the two places the rollout controls add state:
//
//   - A version staged or installed but not activated when the update was
//     killed, then revoked: the next run discards it and never activates
//     it (the kill switch, issue 12 (b)).
//   - A failing run killed at each of its crash points, the writes of the
//     backoff schedule included: afterwards status reads the schedule
//     (never a damaged file set aside), and the next forced run fails for
//     the same reason, not for a damaged state.
func TestKillRollout(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	t.Parallel()
	bin := killtest.Build(t, "github.com/edgetuf/edgetuf/cmd/mclient")
	r := testrepo.New(t)
	url := r.Serve(t, nil)
	root := filepath.Join(t.TempDir(), "root.json")
	if err := os.WriteFile(root, r.Root, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := func(args ...string) *exec.Cmd {
		c := exec.Command(bin, args...)
		c.Env = append(os.Environ(), "FAKETIME=")
		return c
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := cmd(args...).CombinedOutput()
		if err != nil {
			t.Fatalf("mclient %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	weights := make([]byte, 3<<20)
	for i := range weights {
		weights[i] = byte(i * 7)
	}
	publish := func(v string) {
		w := slices.Clone(weights)
		w[0] = v[len(v)-3]
		r.Publish(t, "det", v, map[string][]byte{"model.bin": w}, targets.Compat{})
	}
	publish("1.0.0")
	initOnly := func(name string) string {
		dir := filepath.Join(t.TempDir(), name)
		must("init", "--state", dir, "--root", root, "--repo-url", url, "--device-id", name)
		return dir
	}
	device := func(name string) string {
		dir := initOnly(name)
		must("update", "--state", dir, "--model-id", "det")
		return dir
	}
	traceDev := device("trace")
	names := []string{"client.install.moved", "client.install.renamed"}
	devs := map[string]string{}
	for _, n := range names {
		devs[n] = device(strings.ReplaceAll(n, ".", "-"))
	}
	downloading := device("download")
	publish("1.1.0")
	trace := killtest.Trace(t, cmd("update", "--state", traceDev, "--model-id", "det"))
	at := map[string]int{}
	for _, n := range names {
		if at[n] = slices.Index(trace, n); at[n] < 0 {
			t.Fatalf("crash point %s not in the trace %v", n, trace)
		}
	}
	// A point inside the download too (a MiB of the payload written): the
	// last one before the install.
	for j := at["client.install.moved"] - 1; j >= 0; j-- {
		if !strings.HasPrefix(trace[j], "atomicfs.") {
			names = append(names, trace[j])
			devs[trace[j]], at[trace[j]] = downloading, j
			break
		}
	}
	for _, n := range names {
		k := killtest.CrashAt(t, cmd("update", "--state", devs[n], "--model-id", "det"), at[n]+1)
		if k.Finished || k.Point != n {
			t.Fatalf("kill at %s: finished %v, point %q\n%s", n, k.Finished, k.Point, k.Output)
		}
	}
	r.SetControls(t, "det", "1.1.0", nil, &targets.Revocation{Reason: "bad", Time: "2026-01-01T00:00:00Z"}, nil)
	for _, n := range names {
		dir := devs[n]
		out := must("update", "--state", dir, "--model-id", "det")
		if !strings.Contains(out, "det is up to date (1.0.0)") || !strings.Contains(out, "skipped 1.1.0: REVOKED") {
			t.Fatalf("killed at %s, then revoked: %s", n, out)
		}
		for _, p := range []string{filepath.Join(dir, "models", "det", "1.1.0"), filepath.Join(dir, "staging", "det", "1.1.0")} {
			if _, err := os.Lstat(p); !os.IsNotExist(err) {
				t.Fatalf("killed at %s: %s left: %v", n, p, err)
			}
		}
		entries, _ := os.ReadDir(filepath.Join(dir, "models", "det"))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".install-") {
				t.Fatalf("killed at %s: %s left", n, e.Name())
			}
		}
		events, _ := os.ReadFile(filepath.Join(dir, "events.jsonl"))
		if strings.Contains(string(events), `"event":"activated","model_id":"det","from_version":"1.0.0","to_version":"1.1.0"`) {
			t.Fatalf("killed at %s: 1.1.0 was activated", n)
		}
		must("verify", "--state", dir, "--model-id", "det")
	}

	// Backoff state under kills: 1.2.0's served file does not verify.
	publish("1.2.0")
	served := r.TargetFile(t, "models/det/1.2.0/model.bin")
	data, _ := os.ReadFile(served)
	data[100] ^= 1
	if err := os.WriteFile(served, data, 0o644); err != nil {
		t.Fatal(err)
	}
	failing := initOnly("failing")
	// Traced by hand: the run fails (killtest.Trace wants a success).
	tf := filepath.Join(t.TempDir(), "trace")
	tc := cmd("update", "--state", failing, "--model-id", "det", "--force")
	tc.Env = append(tc.Env, "EDGETUF_CRASH_TRACE="+tf)
	if out, err := tc.CombinedOutput(); err == nil || !strings.Contains(string(out), "HASH_MISMATCH") {
		t.Fatalf("traced failing run: %v %s", err, out)
	}
	traced, _ := os.ReadFile(tf)
	ftrace := strings.Fields(string(traced))
	if len(ftrace) == 0 {
		t.Fatal("no crash point traced")
	}
	for i := range ftrace {
		dir := initOnly("backoff")
		// Two failed runs first: the killed run rewrites a schedule.
		cmd("update", "--state", dir, "--model-id", "det", "--force").Run()
		k := killtest.CrashAt(t, cmd("update", "--state", dir, "--model-id", "det", "--force"), i+1)
		if k.Finished {
			continue
		}
		st := must("status", "--state", dir, "--model-id", "det", "--json")
		var s struct {
			Version  string `json:"version"`
			Schedule *struct {
				Attempts int    `json:"attempts"`
				LastCode string `json:"last_code"`
			} `json:"schedule"`
		}
		if err := json.Unmarshal([]byte(st), &s); err != nil || s.Version != "" || s.Schedule == nil || s.Schedule.Attempts < 1 || s.Schedule.LastCode != "HASH_MISMATCH" {
			t.Fatalf("killed at %s (%d): status %v %s", k.Point, i+1, err, st)
		}
		if _, err := os.Lstat(filepath.Join(dir, "models", "det", "backoff.json.damaged")); err == nil {
			t.Fatalf("killed at %s: the schedule was damaged", k.Point)
		}
		out, err := cmd("update", "--state", dir, "--model-id", "det", "--force").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "HASH_MISMATCH") {
			t.Fatalf("killed at %s: next run %v: %s", k.Point, err, out)
		}
	}
	t.Logf("killed a failing run at each of its %d crash points: %v", len(ftrace), ftrace)
}
