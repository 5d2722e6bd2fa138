package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

// TestFakeTimeOnlyForTUF builds mclient as it ships and runs it against a
// repository whose metadata expired 29 days ago (a freeze attack, or a
// repository that stopped re-signing), with FAKETIME set 30 days back. The
// device's update ignores FAKETIME and refuses the metadata
// (METADATA_EXPIRED): whoever can set a device's environment cannot turn
// off the freeze-attack defence. `mclient tuf`, the conformance suite's
// client, honours FAKETIME (the suite runs it under faketime) and accepts
// the metadata; without FAKETIME it refuses it too. The test binary's own
// clock hook (MCLIENT_TEST_CLOCK, clock_test.go) moves the update's clock:
// the refusal is the clock's doing, nothing else.
func TestFakeTimeOnlyForTUF(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	shipped := filepath.Join(dir, "mclient")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(goTool, "build", "-o", shipped, "github.com/edgetuf/edgetuf/cmd/mclient").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	withHook, err := exec.LookPath("mclient") // this test binary (TestMain)
	if err != nil {
		t.Fatalf("mclient is not on PATH (TestMain installs it): %v", err)
	}

	r := testrepo.New(t)
	past := time.Now().Add(-30 * 24 * time.Hour)
	r.R.Now = func() time.Time { return past } // the timestamp (1 day) expired 29 days ago
	r.Publish(t, "det", "1.0.0", map[string][]byte{"model.bin": []byte("weights")}, targets.Compat{})
	url := r.Serve(t, nil)
	root := filepath.Join(dir, "root.json")
	if err := os.WriteFile(root, r.Root, 0o644); err != nil {
		t.Fatal(err)
	}

	run := func(bin string, env []string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		_, err := cmd.Output()
		return strings.TrimSpace(stderr.String()), err
	}
	back := []string{"FAKETIME=-30d", testClockVar + "="}
	wantExpired := func(what, stderr string, err error) {
		t.Helper()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr, "METADATA_EXPIRED") {
			t.Errorf("%s: %v, stderr %q; want exit 1 with METADATA_EXPIRED", what, err, stderr)
		}
	}

	state := filepath.Join(dir, "state")
	if stderr, err := run(shipped, nil, "init", "--state", state, "--root", root, "--repo-url", url); err != nil {
		t.Fatalf("init: %v %s", err, stderr)
	}
	stderr, err := run(shipped, back, "update", "--state", state, "--model-id", "det")
	wantExpired("update with FAKETIME", stderr, err)

	md := filepath.Join(dir, "tuf")
	if stderr, err := run(shipped, nil, "tuf", "--metadata-dir", md, "init", root); err != nil {
		t.Fatalf("tuf init: %v %s", err, stderr)
	}
	stderr, err = run(shipped, []string{"FAKETIME="}, "tuf", "--metadata-dir", md, "--metadata-url", url+"/metadata", "refresh")
	wantExpired("tuf refresh without FAKETIME", stderr, err)
	if stderr, err := run(shipped, back, "tuf", "--metadata-dir", md, "--metadata-url", url+"/metadata", "refresh"); err != nil {
		t.Errorf("tuf refresh with FAKETIME: %v %s", err, stderr)
	}

	// The test binary's hook: the same update goes through 30 days back
	// (forced: the failed run scheduled a backoff).
	if stderr, err := run(withHook, []string{"FAKETIME=", testClockVar + "=-30d"}, "update", "--state", state, "--model-id", "det", "--force"); err != nil {
		t.Errorf("update with %s: %v %s", testClockVar, err, stderr)
	}
}
