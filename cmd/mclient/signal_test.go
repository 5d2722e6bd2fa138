package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

// TestSignalStopsBlockedUpdate runs mclient update as a process against a
// server that stops answering: on timestamp.json (before, such a server
// kept mclient running for ever, holding the lock and ignoring SIGTERM),
// or half way through a model file. Every limit of the client is set to
// hours, so only the signal can end the run. Once mclient is blocked, the
// test sends SIGTERM (or SIGINT): mclient must exit 143 (130) with one
// line naming INTERRUPTED and the signal (and with --json the JSON error,
// code INTERRUPTED), release the
// lock (rollback takes it), and keep the partial download, which the next
// update resumes. The time from the signal to the exit is logged, not
// asserted.
func TestSignalStopsBlockedUpdate(t *testing.T) {
	t.Parallel()
	mclient, err := exec.LookPath("mclient")
	if err != nil {
		t.Fatalf("mclient is not on PATH (TestMain installs it): %v", err)
	}
	r := testrepo.New(t)
	const size, sent = 3 << 20, 1 << 20
	weights := make([]byte, size)
	rand.NewChaCha8([32]byte{7}).Read(weights)
	r.Publish(t, "det", "1.0.0", map[string][]byte{"model.bin": weights}, targets.Compat{})

	var mu sync.Mutex
	var blockSuffix string    // requests ending with it block
	var arrived chan struct{} // closed when a blocked request arrives
	release := make(chan struct{})
	defer close(release)
	url := r.Serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			suffix, ch := blockSuffix, arrived
			mu.Unlock()
			if suffix == "" || !strings.HasSuffix(req.URL.Path, suffix) {
				h.ServeHTTP(w, req)
				return
			}
			if suffix == ".model.bin" {
				w.Header().Set("Content-Length", fmt.Sprint(size))
				w.Write(weights[:sent])
				w.(http.Flusher).Flush()
			}
			closeOnce(ch)
			select {
			case <-req.Context().Done():
			case <-release:
			}
		})
	})
	root := filepath.Join(t.TempDir(), "root.json")
	if err := os.WriteFile(root, r.Root, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(mclient, args...)
		cmd.Env = append(os.Environ(), "FAKETIME=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	for _, tc := range []struct {
		name   string
		suffix string
		sig    syscall.Signal
		status int
		signal string
	}{
		{"SIGTERM on timestamp.json", "/metadata/timestamp.json", syscall.SIGTERM, 143, "SIGTERM"},
		{"SIGINT in a model file", ".model.bin", syscall.SIGINT, 130, "SIGINT"},
	} {
		state := filepath.Join(t.TempDir(), "dev")
		if out, err := run("init", "--state", state, "--root", root, "--repo-url", url); err != nil {
			t.Fatalf("init: %v\n%s", err, out)
		}
		mu.Lock()
		blockSuffix, arrived = tc.suffix, make(chan struct{})
		ch := arrived
		mu.Unlock()

		cmd := exec.Command(mclient, "update", "--state", state, "--model-id", "det", "--stall-timeout", "1h", "--timeout", "2h", "--json")
		cmd.Env = append(os.Environ(), "FAKETIME=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		dieWithTest(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		<-ch // mclient is waiting for the server
		part := filepath.Join(state, "staging", "det", "1.0.0", "model.bin.part")
		if tc.suffix == ".model.bin" {
			// Wait until what the server sent is on disk: no deadline, the
			// test's own timeout bounds it.
			for staged(part) < sent {
				time.Sleep(5 * time.Millisecond)
			}
		}
		start := time.Now()
		if err := cmd.Process.Signal(tc.sig); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		t.Logf("%s: mclient exited %v after the signal (%v)", tc.name, time.Since(start).Round(time.Millisecond), err)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tc.status {
			t.Fatalf("%s: mclient update: %v, want exit status %d\n%s", tc.name, err, tc.status, stderr.Bytes())
		}
		lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "mclient: update: INTERRUPTED: ") || !strings.HasSuffix(lines[0], "interrupted by "+tc.signal) {
			t.Fatalf("%s: stderr %q, want one line with INTERRUPTED and %s", tc.name, stderr.String(), tc.signal)
		}
		var res struct {
			Error struct {
				Code       string `json:"code"`
				ExitStatus int    `json:"exit_status"`
			} `json:"error"`
			Outcome string `json:"outcome"`
			Code    string `json:"code"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Error.Code != "INTERRUPTED" || res.Error.ExitStatus != tc.status || res.Code != "INTERRUPTED" {
			t.Fatalf("%s: --json printed %s (%v), want the error INTERRUPTED, %d, and the result", tc.name, stdout.Bytes(), err, tc.status)
		}

		// The lock is free: rollback takes it (and finds nothing to do).
		out, err := run("rollback", "--state", state, "--model-id", "det")
		if err == nil || !strings.Contains(out, "NO_ACTIVE_MODEL") {
			t.Fatalf("%s: rollback after the signal: %v\n%s", tc.name, err, out)
		}
		kept := staged(part)
		if tc.suffix == ".model.bin" && kept < sent {
			t.Fatalf("%s: %d bytes staged after the signal, %d had arrived", tc.name, kept, sent)
		}

		mu.Lock()
		blockSuffix = ""
		mu.Unlock()
		out, err = run("update", "--state", state, "--model-id", "det")
		if err != nil || !strings.Contains(out, "Updated det (none) -> 1.0.0") {
			t.Fatalf("%s: update after the signal: %v\n%s", tc.name, err, out)
		}
		if kept > 0 && !strings.Contains(out, "resumed") {
			t.Fatalf("%s: the staged part was not resumed: %s", tc.name, out)
		}
	}

	// mclient tuf download stops the same way (before, the signal's
	// default action killed it without a word).
	md, td := filepath.Join(t.TempDir(), "md"), filepath.Join(t.TempDir(), "td")
	if out, err := run("tuf", "--metadata-dir", md, "init", root); err != nil {
		t.Fatalf("tuf init: %v\n%s", err, out)
	}
	mu.Lock()
	blockSuffix, arrived = ".model.bin", make(chan struct{})
	ch := arrived
	mu.Unlock()
	cmd := exec.Command(mclient, "tuf", "--metadata-dir", md, "--metadata-url", url+"/metadata", "--target-name", "models/det/1.0.0/model.bin", "--target-dir", td, "--target-base-url", url+"/targets", "download")
	cmd.Env = append(os.Environ(), "FAKETIME=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	<-ch
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("tuf download: %v, want exit status 130\n%s", err, stderr.Bytes())
	}
	if line := stderr.String(); !strings.HasPrefix(line, "mclient: tuf download: INTERRUPTED: ") || !strings.HasSuffix(line, "interrupted by SIGINT\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("tuf download: stderr %q, want one line with INTERRUPTED", line)
	}
}

// closeOnce closes ch unless it is closed already (handlers run
// concurrently, but only the test's goroutine makes new channels).
var closeMu sync.Mutex

func closeOnce(ch chan struct{}) {
	closeMu.Lock()
	defer closeMu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// staged is the size of a staged file, 0 if absent.
func staged(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
