package client_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	devtele "github.com/edgetuf/edgetuf/client/internal/telemetry"
	"github.com/edgetuf/edgetuf/internal/killtest"
)

// TestKillTelemetryOutbox kills `mclient report` (SIGKILL) at each crash
// point it passes (every write, fsync and rename of the outbox: recording
// the signal, then removing what the collector accepted) and checks that
// the outbox left behind parses, that no report recorded before the kill
// is lost (it is in the outbox or the collector has it), and that the
// next `mclient report` works.
func TestKillTelemetryOutbox(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	t.Parallel()
	bin := killtest.Build(t, "github.com/edgetuf/edgetuf/cmd/mclient")
	r := newRepo(t)
	srv := serveRepo(t, r)
	publish(t, r, 1024, "1.0.0")
	root := filepath.Join(t.TempDir(), "root.json")
	if err := os.WriteFile(root, r.Root, 0o644); err != nil {
		t.Fatal(err)
	}
	mclient := func(args ...string) *exec.Cmd {
		c := exec.Command(bin, args...)
		c.Env = append(os.Environ(), "FAKETIME=")
		return c
	}
	must := func(args ...string) {
		t.Helper()
		if out, err := mclient(args...).CombinedOutput(); err != nil {
			t.Fatalf("mclient %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusOK} {
		col := newCollector(t)
		col.set(http.StatusServiceUnavailable, nil)
		template := filepath.Join(t.TempDir(), "template")
		must("init", "--state", template, "--root", root, "--repo-url", srv.URL, "--telemetry-url", col.URL)
		must("update", "--state", template, "--model-id", model) // its reports stay in the outbox
		before := outboxIDs(t, &device{t: t, dir: template})
		if len(before) == 0 {
			t.Fatal("empty outbox")
		}
		col.set(status, nil)
		trace := killtest.Trace(t, mclient("report", "--state", copyState(t, template), "--kind", "crash", model))
		if len(trace) < 3 {
			t.Fatalf("collector %d: mclient report passed %d crash points: %v", status, len(trace), trace)
		}
		for n := 1; n <= len(trace); n++ {
			dir := copyState(t, template)
			k := killtest.CrashAt(t, mclient("report", "--state", dir, "--kind", "crash", model), n)
			if k.Finished {
				t.Fatalf("collector %d, kill at %d: finished first (%v)\n%s", status, n, k.Err, k.Output)
			}
			d := &device{t: t, dir: dir}
			left := outboxIDs(t, d) // fails the test if the outbox does not parse
			received := map[string]bool{}
			for _, rep := range col.st.Reports() {
				received[rep.ID] = true
			}
			in := map[string]bool{}
			for _, id := range left {
				in[id] = true
			}
			for _, id := range before {
				if !in[id] && !received[id] {
					t.Fatalf("collector %d, killed at %s (%d): report %s lost", status, k.Point, n, id)
				}
			}
			must("report", "--state", dir, "--kind", "crash", model)
			outboxIDs(t, d)
			if _, err := os.Lstat(filepath.Join(dir, devtele.Dir, devtele.OutboxFile)); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("collector %d: %d crash points: %v", status, len(trace), trace)
	}
}

// copyState copies a state directory for one killed run.
func copyState(t *testing.T, template string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	copyTree(t, template, dir)
	return dir
}
