package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/killtest"
	"github.com/edgetuf/edgetuf/targets"
)

// killBundleFiles is how many payload files the many-file versions of
// TestKillUpdateManyFiles have.
const killBundleFiles = 200

// TestKillUpdateManyFiles kills `mclient update` of a version of 200 small
// files (SIGKILL) part-way: at crash points sampled from a traced update
// (every file's download, the moves into the hidden install directory),
// at each of the last ones (the batched fsyncs, the rename into place,
// the pointer switch) and at random times. The downloads are not fsynced
// one by one (devstate.MoveVerified syncs them all before the version is
// renamed into place). After every kill the active version verifies
// (`mclient verify`), the new version's directory is absent or holds all
// its files, and the next update installs it; at the end nothing
// temporary is left.
func TestKillUpdateManyFiles(t *testing.T) {
	_, maxPoints, timed, rng := killtest.Begin(t, "MCLIENT", 20261205, [2]int{6, 3}, [2]int{2, 1})

	base := t.TempDir()
	k, url, root := newKillEnv(t, base)
	k.updateArgs = []string{"--model-id", killModel}
	publish := func(n int) {
		files := map[string][]byte{}
		for i := range killBundleFiles {
			data := make([]byte, 512+rng.IntN(2048))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			files[fmt.Sprintf("shard-%03d.bin", i)] = data
		}
		k.repo.Publish(t, killModel, k.version(n), files, targets.Compat{})
	}
	update := func() *exec.Cmd { return k.command(append([]string{"update", "--state", k.state}, k.updateArgs...)...) }

	k.state = filepath.Join(base, "device")
	k.mustRun("init", "--state", k.state, "--root", root, "--repo-url", url)
	publish(0)
	k.mustRun(append([]string{"update", "--state", k.state}, k.updateArgs...)...)
	publish(1)
	began := time.Now()
	trace := killtest.Trace(t, update())
	total := time.Since(began)
	t.Logf("uninterrupted update of %d files: %d crash points", killBundleFiles, len(trace))

	n := 2
	killed := func(label string, kill func(*exec.Cmd) killtest.Kill) {
		t.Helper()
		publish(n)
		v := k.version(n)
		before := k.status()
		res := kill(update())
		if res.Finished && res.Err != nil {
			t.Fatalf("%s: update to %s failed on its own: %v\n%s", label, v, res.Err, res.Output)
		}
		st := k.status()
		t.Logf("%s %s: crash point %q, finished %v; status names %q", label, v, res.Point, res.Finished, st.Version)
		if st.Version != before.Version && st.Version != v {
			t.Fatalf("%s: status names %q, neither the version before (%q) nor the new one", label, st.Version, before.Version)
		}
		out, err := k.run("verify", "--state", k.state, "--model-id", killModel)
		if err != nil || !strings.HasPrefix(string(out), "OK: "+killModel+" "+st.Version+": ") {
			t.Fatalf("%s: verify of %s: %v\n%s", label, st.Version, err, out)
		}
		if entries, err := os.ReadDir(filepath.Join(k.state, "models", killModel, v)); err == nil && len(entries) != killBundleFiles+1 {
			t.Fatalf("%s: %s is installed with %d of its %d files", label, v, len(entries), killBundleFiles+1)
		}
		k.mustRun(append([]string{"update", "--state", k.state}, k.updateArgs...)...)
		if after := k.status(); after.Version != v {
			t.Fatalf("update after %s: %s active, want %s", label, after.Version, v)
		}
		os.RemoveAll(filepath.Join(k.repo.Dir, "targets", "models", killModel, k.version(n-2)))
		n++
	}
	crashAt := func(c int) func(*exec.Cmd) killtest.Kill {
		return func(cmd *exec.Cmd) killtest.Kill {
			res := killtest.CrashAt(t, cmd, c)
			if res.Finished {
				t.Fatalf("update was to die at crash point %d (%s) and exited: %v\n%s", c, trace[c-1], res.Err, res.Output)
			}
			return res
		}
	}
	for i, c := range killtest.Sample(trace, maxPoints, rng) {
		killed(fmt.Sprintf("crash #%d at %d/%d", i, c, len(trace)), crashAt(c))
	}
	// The installation's own points come last, after 200 downloads'.
	moved := 0
	for c := len(trace); c > 0 && moved < 1; c-- {
		killed(fmt.Sprintf("crash at %d/%d (%s)", c, len(trace), trace[c-1]), crashAt(c))
		if trace[c-1] == "client.install.moved" {
			moved++
		}
	}
	for i := range timed {
		killed(fmt.Sprintf("timed #%d", i), func(cmd *exec.Cmd) killtest.Kill {
			return killtest.KillAfter(t, cmd, killtest.Plan{Delay: time.Duration(rng.Int64N(int64(total) + 1))})
		})
	}

	var leaks []string
	filepath.WalkDir(k.state, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(d.Name(), ".install-") || atomicfs.IsTemp(d.Name()) || strings.HasSuffix(d.Name(), ".part")) {
			leaks = append(leaks, strings.TrimPrefix(p, k.state+"/"))
		}
		return nil
	})
	if len(leaks) > 0 {
		t.Errorf("left behind after the final update: %v", leaks)
	}
}
