package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/killtest"
)

// TestInterruptAddTarget sends SIGINT, then SIGTERM, to `mrepo add-target`
// stopped in the middle of its work: a binary built with crash points
// blocks at a chosen one (EDGETUF_CRASH_PAUSE) and creates a file to say
// so, so the signal arrives mid-publication without any clock. mrepo must
// exit 130 (143) with the one line "mrepo: interrupted" (and with --json
// the JSON error INTERRUPTED); the repository verifies, the version is all
// there or absent, and the next add-target publishes it.
func TestInterruptAddTarget(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs POSIX signals")
	}
	t.Parallel()
	k := newKillEnv(t)
	if err := os.WriteFile(filepath.Join(k.bundle, "weights.bin"), bytes.Repeat([]byte("w"), 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	k.writeManifest("1.0.0")
	trace := killtest.Trace(t, k.command("add-target", "--repo", k.repo, "--keys", k.keys, k.bundle))

	for i, tc := range []struct {
		sig    syscall.Signal
		status int
		json   bool
		at     int // the crash point to stop at
	}{
		{syscall.SIGINT, 130, false, 2},              // copying the payload
		{syscall.SIGTERM, 143, true, len(trace) / 2}, // mid-publication
		{syscall.SIGINT, 130, true, len(trace) - 1},  // publishing metadata
	} {
		v := fmt.Sprintf("1.0.%d", i+1)
		k.writeManifest(v)
		paused := filepath.Join(t.TempDir(), "paused")
		args := []string{"add-target", k.bundle, "--repo", k.repo, "--keys", k.keys}
		if tc.json {
			args = append(args, "--json")
		}
		cmd := k.command(args...)
		cmd.Env = append(cmd.Env, fmt.Sprintf("EDGETUF_CRASH_PAUSE=%d:%s", tc.at, paused))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		// Wait until it is stopped at the point (the test's own timeout
		// bounds this; nothing depends on how long it takes).
		for {
			if _, err := os.Stat(paused); err == nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := cmd.Process.Signal(tc.sig); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tc.status {
			t.Fatalf("%v at crash point %d (%s): %v, want exit status %d\n%s", tc.sig, tc.at, trace[tc.at-1], err, tc.status, stderr.Bytes())
		}
		if stderr.String() != "mrepo: interrupted\n" {
			t.Fatalf("%v: stderr %q, want the one line \"mrepo: interrupted\"", tc.sig, stderr.String())
		}
		var res struct {
			Error struct {
				Code       string `json:"code"`
				ExitStatus int    `json:"exit_status"`
			} `json:"error"`
		}
		if tc.json {
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Error.Code != "INTERRUPTED" || res.Error.ExitStatus != tc.status {
				t.Fatalf("%v: --json printed %q (%v)", tc.sig, stdout.String(), err)
			}
		} else if stdout.Len() != 0 {
			t.Fatalf("%v: stdout %q", tc.sig, stdout.String())
		}
		k.verify(fmt.Sprintf("after %v at crash point %d", tc.sig, tc.at))
		n := k.publishedTargets(v)
		if n != 0 && n != 2 {
			t.Fatalf("%v at crash point %d: version %s partly published: %d targets", tc.sig, tc.at, v, n)
		}
		t.Logf("%v at crash point %d (%s): %d targets of %s published", tc.sig, tc.at, trace[tc.at-1], n, v)
		if n == 0 {
			if out, err := k.run("add-target", "--repo", k.repo, "--keys", k.keys, k.bundle); err != nil {
				t.Fatalf("add-target %s after the interrupt: %v\n%s", v, err, out)
			}
		} else if k.visibleTargets(v) == 0 {
			// Stopped after its snapshot: published, and the next
			// timestamp makes it visible.
			if out, err := k.run("timestamp", "--repo", k.repo, "--keys", k.keys); err != nil {
				t.Fatalf("timestamp after the interrupt: %v\n%s", err, out)
			}
		}
		if n := k.visibleTargets(v); n != 2 {
			t.Fatalf("%s: %d targets published after the interrupt", v, n)
		}
	}
}
