package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/killtest"
	"github.com/edgetuf/edgetuf/rollout"
)

// TestKillUpdateTPM kills `mclient update` (SIGKILL) with the TPM
// anti-rollback store (a swtpm) at each crash point of an update, the
// TPM counter's own included (between two increments of one raise), then
// at random times. Version 1.0.N has rollback epoch 2N+1, so each update raises the
// counter by two. After every kill: a device that had an active version
// still has one and it verifies; the hardware epoch never went down, and
// never exceeds the epoch of the newest version confirmed healthy (the
// version on trial does not count: the epoch is raised at confirmation,
// not activation, so a failed health check can always go back). The next
// update completes, and leaves the epoch at the new version's.
func TestKillUpdateTPM(t *testing.T) {
	_, maxPoints, timed, rng := killtest.Begin(t, "MCLIENT", 20261204, [2]int{16, 8}, [2]int{4, 2})
	sw := backendtest.StartSWTPM(t)

	base := t.TempDir()
	k, url, root := newKillEnv(t, base)
	k.payload = make([]byte, 1<<20)
	k.updateArgs = []string{"--model-id", killModel, "--health-check", "true"}
	k.state = filepath.Join(base, "device")
	k.mustRun("init", "--state", k.state, "--root", root, "--repo-url", url, "--anti-rollback", "tpm:"+sw.Socket)
	epoch := func(n int) uint64 { return uint64(2*n + 1) }
	publish := func(n int) {
		k.publish(n)
		if _, err := k.repo.R.ChangeControls(killModel, k.version(n), k.repo.Keys, func(v *rollout.Version) error { v.Custom.Epoch = epoch(n); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	update := func() *exec.Cmd { return k.command(append([]string{"update", "--state", k.state}, k.updateArgs...)...) }

	publish(0)
	k.mustRun(append([]string{"update", "--state", k.state}, k.updateArgs...)...)
	publish(1)
	start := time.Now()
	trace := killtest.Trace(t, update())
	total := time.Since(start)
	if st := k.tpmStatus(); st.Version != k.version(1) || st.Epoch == nil || *st.Epoch != epoch(1) {
		t.Fatalf("after the traced updates: %+v", st)
	}
	if !strings.Contains(strings.Join(trace, "\n"), "tpmstore.increment") {
		t.Fatal("no crash point tpmstore.increment traced")
	}
	t.Logf("uninterrupted update: %v, %d crash points", total.Round(time.Millisecond), len(trace))

	n := 2
	killed := func(label string, kill func(*exec.Cmd) killtest.Kill) {
		t.Helper()
		publish(n)
		v := k.version(n)
		before := k.tpmStatus()
		res := kill(update())
		if res.Finished && res.Err != nil {
			t.Fatalf("%s: update to %s failed on its own: %v\n%s", label, v, res.Err, res.Output)
		}
		st := k.tpmStatus()
		t.Logf("%s %s (point %q): status names %q%s, hardware epoch %d", label, v, res.Point, st.Version, map[bool]string{true: " (on trial)"}[st.Trial], *st.Epoch)
		if before.Version != "" && st.Version == "" {
			t.Fatalf("%s: %s was active before the kill, none is now", label, before.Version)
		}
		if st.Version != "" {
			out, err := k.run("verify", "--state", k.state, "--model-id", killModel)
			if err != nil || !strings.HasPrefix(string(out), "OK: "+killModel+" "+st.Version+": ") {
				t.Fatalf("%s: verify of %s: %v\n%s", label, st.Version, err, out)
			}
		}
		justified := epoch(n - 1)
		if st.Version == v && !st.Trial {
			justified = epoch(n)
		}
		if *st.Epoch < *before.Epoch || *st.Epoch > justified {
			t.Fatalf("%s: hardware epoch %d (was %d); the newest confirmed version justifies %d", label, *st.Epoch, *before.Epoch, justified)
		}
		k.mustRun(append([]string{"update", "--state", k.state}, k.updateArgs...)...)
		if after := k.tpmStatus(); after.Version != v || after.Trial || *after.Epoch != epoch(n) {
			t.Fatalf("after the update that followed %s: %+v (epoch %d), want %s confirmed at epoch %d", label, after, *after.Epoch, v, epoch(n))
		}
		os.RemoveAll(filepath.Join(k.repo.Dir, "targets", "models", killModel, k.version(n-2)))
		n++
	}
	for i, c := range killtest.Sample(trace, maxPoints, rng) {
		killed(fmt.Sprintf("crash #%d at %d/%d (%s)", i, c, len(trace), trace[c-1]), func(cmd *exec.Cmd) killtest.Kill {
			return killtest.CrashAt(t, cmd, c)
		})
	}
	for i := 0; i < timed; i++ {
		delay := time.Duration(rng.Int64N(int64(total) + 1))
		killed(fmt.Sprintf("timed #%d after %v", i, delay.Round(time.Millisecond)), func(cmd *exec.Cmd) killtest.Kill {
			return killtest.KillAfter(t, cmd, killtest.Plan{Delay: delay})
		})
	}
}

// tpmStatus is mclient status --json with the hardware epoch.
type tpmStatus struct {
	Version string  `json:"version"`
	Trial   bool    `json:"trial"`
	Epoch   *uint64 `json:"hardware_epoch"`
}

func (k *killEnv) tpmStatus() tpmStatus {
	k.t.Helper()
	out := k.mustRun("status", "--state", k.state, "--model-id", k.updateArgs[1], "--json")
	var st tpmStatus
	if err := json.Unmarshal(out, &st); err != nil || st.Epoch == nil {
		k.t.Fatalf("status: %v\n%s", err, out)
	}
	return st
}
