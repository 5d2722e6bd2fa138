package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

// TestSignalStopsUpdate sends SIGTERM (then, in a second run, SIGINT) to
// `mclient update` while the new version's health check runs. mclient
// stops gracefully: exit status 143 (130 for SIGINT), one line on stderr
// with the code INTERRUPTED, the new version left active on trial, not
// marked bad, still installed. The next update checks it again and
// confirms it. The test knows the check runs because the check writes to
// a FIFO the test reads (no clock), and the check blocks on another FIFO
// that nobody writes: only the stop ends it.
func TestSignalStopsUpdate(t *testing.T) {
	t.Parallel()
	mclient, err := exec.LookPath("mclient")
	if err != nil {
		t.Fatalf("mclient is not on PATH (TestMain installs it): %v", err)
	}
	for _, tc := range []struct {
		sig    syscall.Signal
		status int
	}{{syscall.SIGTERM, 143}, {syscall.SIGINT, 130}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			r := testrepo.New(t)
			files := map[string][]byte{"model.bin": []byte("weights 1"), "labels.txt": []byte("cat\n")}
			r.Publish(t, "det", "1.0.0", files, targets.Compat{})
			url := r.Serve(t, nil)
			root := filepath.Join(base, "root.json")
			if err := os.WriteFile(root, r.Root, 0o644); err != nil {
				t.Fatal(err)
			}
			state := filepath.Join(base, "dev")
			run := func(args ...string) ([]byte, error) {
				cmd := exec.Command(mclient, args...)
				cmd.Env = append(os.Environ(), "FAKETIME=")
				return cmd.CombinedOutput()
			}
			mustRun := func(args ...string) []byte {
				out, err := run(args...)
				if err != nil {
					t.Fatalf("mclient %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return out
			}
			mustRun("init", "--state", state, "--root", root, "--repo-url", url)
			mustRun("update", "--state", state, "--model-id", "det")
			files["model.bin"] = []byte("weights 2")
			r.Publish(t, "det", "1.1.0", files, targets.Compat{})

			started, block := filepath.Join(base, "started"), filepath.Join(base, "block")
			for _, f := range []string{started, block} {
				if err := syscall.Mkfifo(f, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			check := filepath.Join(base, "check.sh")
			script := fmt.Sprintf("echo \"$1\" > '%s'\nread x < '%s'\n", started, block)
			if err := os.WriteFile(check, []byte(script), 0o700); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(mclient, "update", "--state", state, "--model-id", "det",
				"--health-check", "/bin/sh "+check, "--health-timeout", "1h")
			cmd.Env = append(os.Environ(), "FAKETIME=")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// Blocks until the check opens the FIFO: it is running.
			if dir, err := os.ReadFile(started); err != nil || strings.TrimSpace(string(dir)) != filepath.Join(state, "models", "det", "1.1.0") {
				t.Fatalf("the check runs on %q (%v)", dir, err)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err = <-done:
			case <-time.After(2 * time.Minute):
				cmd.Process.Kill()
				t.Fatal("mclient did not stop")
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.status {
				t.Fatalf("exit: %v, want status %d\n%s", err, tc.status, stderr.Bytes())
			}
			if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "mclient: update: INTERRUPTED: ") {
				t.Fatalf("stderr %q: want one line with INTERRUPTED", stderr.String())
			}

			type status struct {
				Version   string   `json:"version"`
				Previous  string   `json:"previous"`
				Trial     bool     `json:"trial"`
				Installed []string `json:"installed"`
				Bad       []string `json:"bad_versions"`
				Floor     string   `json:"anti_rollback_floor"`
				Last      struct {
					Code string `json:"code"`
				} `json:"last_result"`
			}
			var st status
			if err := json.Unmarshal(mustRun("status", "--state", state, "--model-id", "det", "--json"), &st); err != nil {
				t.Fatal(err)
			}
			if st.Version != "1.1.0" || !st.Trial || st.Previous != "1.0.0" || len(st.Bad) != 0 || st.Floor != "1.0.0" ||
				fmt.Sprint(st.Installed) != "[1.0.0 1.1.0]" || st.Last.Code != "INTERRUPTED" {
				t.Fatalf("status after the stop: %+v", st)
			}
			// Checked again and confirmed.
			out := mustRun("update", "--state", state, "--model-id", "det", "--health-check", "true", "--json")
			st = status{}
			if err := json.Unmarshal(mustRun("status", "--state", state, "--model-id", "det", "--json"), &st); err != nil {
				t.Fatal(err)
			}
			if st.Version != "1.1.0" || st.Trial || len(st.Bad) != 0 || st.Floor != "1.1.0" {
				t.Fatalf("after the next update (%s): %+v", out, st)
			}
			mustRun("verify", "--state", state, "--model-id", "det")
		})
	}
}
