// Package killtest is the harness of the kill tests of mrepo and mclient:
// they run a tool, kill it with SIGKILL part-way, check that what it
// leaves on disk is usable, and check that the next run completes.
//
// Kills land in two ways. Deterministically, at crash points
// (internal/crashpoint): the tool is built with crash points, one
// uninterrupted run is traced to list the points it passes, and each
// killed run dies at a chosen count, so every step of the work (every
// write, fsync and rename, and every MiB of a transfer) is covered
// whatever the load of the machine. And at random times, from process
// start or from an event seen on disk, which also lands between crash
// points (inside a system call, in go-tuf's own writes). Neither kind of
// test asserts anything about time: a kill that lands in another phase
// than planned is still checked, and coverage is asserted only of the
// crash-point kills.
//
// It is test support only, imported by _test.go files.
package killtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment variables of binaries built with crash points (see
// internal/crashpoint/crashpoint_on.go).
const (
	envAt    = "EDGETUF_CRASH_AT"
	envTrace = "EDGETUF_CRASH_TRACE"
)

// Build builds the command package pkg (an import path) with crash points
// into a temporary directory of t and returns the binary's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	out, err := exec.Command(goTool, "build", "-tags", "edgetuf_crashpoints", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("building %s with crash points: %v\n%s", pkg, err, out)
	}
	return bin
}

// Seed returns the seed a kill test draws its random choices from: the
// value of the environment variable env if set, else def. It logs how to
// reproduce the run.
func Seed(t testing.TB, env string, def uint64) uint64 {
	t.Helper()
	seed := def
	if s := os.Getenv(env); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", env, err)
		}
	}
	t.Logf("seed %d (%s=%d reproduces the draws)", seed, env, seed)
	return seed
}

// Count returns the value of the environment variable env if set, else
// def (short with -short).
func Count(t testing.TB, env string, def, short int) int {
	t.Helper()
	if s := os.Getenv(env); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			t.Fatalf("%s=%q: want a count", env, s)
		}
		return n
	}
	if testing.Short() {
		return short
	}
	return def
}

// RNG returns a deterministic generator for seed.
func RNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6b696c6c)) }

// Begin starts a kill test: it is skipped where there is no SIGKILL
// (Windows) and runs in parallel. It returns the seed (Seed with
// PREFIX_KILL_SEED, default seed), how many crash points to kill at
// (Count with PREFIX_KILL_ITERATIONS, points: {default, with -short}),
// how many kills at random times (PREFIX_KILL_TIMED, timed likewise) and
// the generator of the seed's draws (RNG).
func Begin(t *testing.T, prefix string, seed uint64, points, timed [2]int) (uint64, int, int, *rand.Rand) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	t.Parallel()
	seed = Seed(t, prefix+"_KILL_SEED", seed)
	maxPoints := Count(t, prefix+"_KILL_ITERATIONS", points[0], points[1])
	nTimed := Count(t, prefix+"_KILL_TIMED", timed[0], timed[1])
	return seed, maxPoints, nTimed, RNG(seed)
}

// Trace runs cmd (a binary from Build) to completion and returns the
// names of the crash points it passed, in order. The command must succeed.
func Trace(t testing.TB, cmd *exec.Cmd) []string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "trace")
	cmd.Env = append(environ(cmd), envTrace+"="+f)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s (traced): %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return readTrace(t, f)
}

// environ is the environment cmd runs with, as a slice that appending to
// does not change.
func environ(cmd *exec.Cmd) []string {
	if cmd.Env == nil {
		return os.Environ()
	}
	return slices.Clip(cmd.Env)
}

func readTrace(t testing.TB, f string) []string {
	t.Helper()
	data, err := os.ReadFile(f)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}

// A Kill says how a killed run ended.
type Kill struct {
	// Point is the crash point the process died at ("" for a timed kill,
	// or if it finished first).
	Point string
	// Finished is set if the process exited on its own before the kill;
	// Err is then its exit error (nil on success).
	Finished bool
	Err      error
	// At is when the kill came, from process start.
	At time.Duration
	// Output is what the process wrote to stdout and stderr.
	Output []byte
}

// CrashAt runs cmd (a binary from Build) and kills it at its nth crash
// point (from 1).
func CrashAt(t testing.TB, cmd *exec.Cmd, n int) Kill {
	t.Helper()
	f := filepath.Join(t.TempDir(), "trace")
	cmd.Env = append(environ(cmd), fmt.Sprintf("%s=%d", envAt, n), envTrace+"="+f)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	k := Kill{At: time.Since(start), Output: out.Bytes()}
	if !killed(cmd) {
		k.Finished, k.Err = true, err
		return k
	}
	if trace := readTrace(t, f); len(trace) > 0 {
		k.Point = trace[len(trace)-1]
	}
	return k
}

// Plan is a timed kill: Delay after Reached first reports true (polled
// from process start; nil: at once). With Spin the wait does not sleep,
// for phases that last a few milliseconds.
type Plan struct {
	Reached func() bool
	Delay   time.Duration
	Spin    bool
}

// KillAfter runs cmd and kills it as p says.
func KillAfter(t testing.TB, cmd *exec.Cmd, p Plan) Kill {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	finished := func(err error) Kill {
		return Kill{Finished: true, Err: err, At: time.Since(start), Output: out.Bytes()}
	}
	trigger := start
	if p.Reached != nil {
		for !p.Reached() {
			select {
			case err := <-done:
				return finished(err)
			default:
			}
			if !p.Spin {
				time.Sleep(200 * time.Microsecond)
			}
		}
		trigger = time.Now()
	}
	if p.Spin {
		for time.Since(trigger) < p.Delay {
		}
	} else {
		timer := time.NewTimer(time.Until(trigger.Add(p.Delay)))
		defer timer.Stop()
		select {
		case err := <-done:
			return finished(err)
		case <-timer.C:
		}
	}
	at := time.Since(start)
	cmd.Process.Signal(syscall.SIGKILL)
	err := <-done
	if !killed(cmd) {
		return finished(err)
	}
	return Kill{At: at, Output: out.Bytes()}
}

func killed(cmd *exec.Cmd) bool {
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// Sample picks the crash counts (from 1) at which to kill runs whose
// traced points are trace: the first passage through every distinct
// point, then further counts drawn from rng, up to max in all (never
// fewer than the distinct points). The counts are sorted.
func Sample(trace []string, max int, rng *rand.Rand) []int {
	seen := map[string]bool{}
	var picked []int
	for i, name := range trace {
		if !seen[name] {
			seen[name] = true
			picked = append(picked, i+1)
		}
	}
	rest := make([]int, 0, len(trace))
	for i := range trace {
		if !slices.Contains(picked, i+1) {
			rest = append(rest, i+1)
		}
	}
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	for _, n := range rest {
		if len(picked) >= max {
			break
		}
		picked = append(picked, n)
	}
	sort.Ints(picked)
	return picked
}

// Tally counts where kills landed.
type Tally map[string]int

// Summary lists the counts, in the order given, then any other key.
func (tl Tally) Summary(order ...string) string {
	var parts []string
	done := map[string]bool{}
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%d %s", tl[k], k))
		done[k] = true
	}
	var rest []string
	for k := range tl {
		if !done[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%d %s", tl[k], k))
	}
	return strings.Join(parts, "; ")
}
