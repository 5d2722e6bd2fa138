package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// killPassphrase is a test-only value; no real secret is used in tests.
const killPassphrase = "test-only-kill-passphrase"

// killPayloadSize is the size of the bundle's main payload file: large
// enough that copying it takes a visible part of add-target's run.
const killPayloadSize = 20 << 20

// TestKillAddTarget kills `mrepo add-target` at random points, many times.
// After every kill, `mrepo verify` from the pinned root must pass, the
// version must be either completely published or absent, and publishing
// must still work. Reproduce a run with MREPO_KILL_SEED (and change its
// length with MREPO_KILL_ITERATIONS); timing makes the exact kill points
// vary between machines.
func TestKillAddTarget(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	mrepo, err := exec.LookPath("mrepo")
	if err != nil {
		t.Fatalf("mrepo is not on PATH (TestMain installs it): %v", err)
	}
	seed := uint64(20300102)
	if s := os.Getenv("MREPO_KILL_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("MREPO_KILL_SEED: %v", err)
		}
	}
	iterations := 32
	if testing.Short() {
		iterations = 8
	}
	if s := os.Getenv("MREPO_KILL_ITERATIONS"); s != "" {
		if iterations, err = strconv.Atoi(s); err != nil {
			t.Fatalf("MREPO_KILL_ITERATIONS: %v", err)
		}
	}
	t.Logf("seed %d, %d iterations (MREPO_KILL_SEED=%d reproduces the draws)", seed, iterations, seed)
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))

	base := t.TempDir()
	k := &killEnv{
		t:      t,
		mrepo:  mrepo,
		repo:   filepath.Join(base, "repo"),
		keys:   filepath.Join(base, "keys"),
		bundle: filepath.Join(base, "bundle"),
		pinned: filepath.Join(base, "pinned-root.json"),
		env:    append(os.Environ(), "MREPO_PASSPHRASE="+killPassphrase),
	}
	if out, err := k.run("init", "--repo", k.repo, "--keys", k.keys); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	root, err := os.ReadFile(filepath.Join(k.repo, "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.pinned, root, 0o644); err != nil {
		t.Fatal(err)
	}

	// The bundle: a large payload and a small one; only manifest.json
	// changes from one version to the next.
	payload := make([]byte, killPayloadSize)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)}).Read(payload)
	if err := os.MkdirAll(k.bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(k.bundle, "weights.bin"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(k.bundle, "labels.txt"), []byte("cat\ndog\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	payload = nil

	// Measure one uninterrupted add-target, watching the repository to see
	// when each phase starts.
	ph := k.measure("1.0.0")
	t.Logf("uninterrupted add-target: %v total; copy starts at %v, targets metadata at %v, snapshot at %v, timestamp at %v",
		ph.total.Round(time.Millisecond), ph.copy.Round(time.Millisecond), ph.targets.Round(time.Millisecond),
		ph.snapshot.Round(time.Millisecond), ph.timestamp.Round(time.Millisecond))
	k.verify("after the measured run")

	// Where to kill. A quarter of the runs are killed at a delay drawn over
	// the whole measured run, from process start. Key decryption fills most
	// of that time and varies from run to run by more than the copy and the
	// metadata writes last, so the other runs draw their delay from an event
	// seen on disk: over the copy once it starts; over the signing of
	// targets metadata once every target file is committed; over the
	// metadata writes and exit once the new targets metadata appears.
	copyDur := ph.targets - ph.copy
	plan := func(i int) killPlan {
		uniform := func(d time.Duration) time.Duration { return time.Duration(rng.Int64N(int64(d) + 1)) }
		switch i % 4 {
		case 0:
			return killPlan{after: "start", delay: uniform(ph.total + ph.total/20)}
		case 1:
			return killPlan{after: "copy", delay: uniform(copyDur)}
		case 2:
			return killPlan{after: "committed", delay: uniform(2 * time.Millisecond)}
		default:
			// Snapshot and timestamp follow within a few milliseconds.
			return killPlan{after: "targets", delay: uniform(4 * time.Millisecond)}
		}
	}

	landed := map[string]int{}
	var inKill, inVerify, inRetry time.Duration
	next := 1
	start := time.Now()
	for i := 0; i < iterations; i++ {
		v := fmt.Sprintf("1.0.%d", next)
		p := plan(i)
		t1 := time.Now()
		where, at := k.killedRun(v, p)
		t2 := time.Now()
		landed[where]++
		t.Logf("#%d %s: kill %v after %s, at %v: %s", i, v, p.delay.Round(100*time.Microsecond), p.after, at.Round(100*time.Microsecond), where)

		k.verify(fmt.Sprintf("after kill #%d (%s)", i, where))
		t3 := time.Now()
		inKill, inVerify = inKill+t2.Sub(t1), inVerify+t3.Sub(t2)
		// The version is all there or not there at all; either way the
		// next add-target (of the same version if absent, else of the next
		// one) succeeds.
		switch n := k.publishedTargets(v); n {
		case 3:
			next++
			v = fmt.Sprintf("1.0.%d", next)
			k.writeManifest(v)
		case 0:
		default:
			t.Fatalf("kill #%d (%s): version %s is partly published: %d targets", i, where, v, n)
		}
		if out, err := k.run("add-target", "--repo", k.repo, "--keys", k.keys, k.bundle); err != nil {
			t.Fatalf("add-target %s after kill #%d (%s): %v\n%s", v, i, where, err, out)
		}
		if n := k.publishedTargets(v); n != 3 {
			t.Fatalf("add-target %s after kill #%d: %d targets published", v, i, n)
		}
		inRetry += time.Since(t3)
		next++
	}
	t.Logf("time in killed runs %v, verify %v, add-target after the kill %v",
		inKill.Round(100*time.Millisecond), inVerify.Round(100*time.Millisecond), inRetry.Round(100*time.Millisecond))
	k.verify("at the end")
	if tmp := k.tempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left after a successful add-target: %v", tmp)
	}
	if got := k.publishedVersions(); got != next {
		t.Errorf("%d versions published, want %d", got, next)
	}

	var summary []string
	for _, w := range []string{whereBefore, whereCopying, whereCommitted, whereTargets, whereSnapshot, wherePublished, whereFinished} {
		summary = append(summary, fmt.Sprintf("%d %s", landed[w], w))
	}
	t.Logf("%d kills in %v: %s", iterations, time.Since(start).Round(100*time.Millisecond), strings.Join(summary, "; "))
	if landed[whereBefore]+landed[whereFinished] == iterations {
		t.Errorf("no kill landed after the copy started: the delays do not cover the run")
	}
}

type killEnv struct {
	t                                 *testing.T
	mrepo, repo, keys, bundle, pinned string
	env                               []string
}

func (k *killEnv) command(args ...string) *exec.Cmd {
	cmd := exec.Command(k.mrepo, args...)
	cmd.Env = k.env
	return cmd
}

func (k *killEnv) run(args ...string) ([]byte, error) {
	return k.command(args...).CombinedOutput()
}

func (k *killEnv) writeManifest(version string) {
	k.t.Helper()
	m := fmt.Sprintf(`{"model_id":"killtest","version":%q,"variant":"lite","platforms":["linux/amd64"]}`, version)
	if err := os.WriteFile(filepath.Join(k.bundle, "manifest.json"), []byte(m), 0o644); err != nil {
		k.t.Fatal(err)
	}
}

// verify runs mrepo verify from the pinned root and requires exit 0.
func (k *killEnv) verify(when string) {
	k.t.Helper()
	out, err := k.run("verify", "--repo", k.repo, "--root", k.pinned)
	if err != nil {
		k.t.Fatalf("verify %s: %v\n%s", when, err, out)
	}
	if !bytes.HasPrefix(out, []byte("OK: ")) {
		k.t.Fatalf("verify %s printed:\n%s", when, out)
	}
}

// current reads the repository as a client reaches it (no signature checks:
// mrepo verify does those).
func (k *killEnv) current() (ts *metadata.Metadata[metadata.TimestampType], snap *metadata.Metadata[metadata.SnapshotType], targ *metadata.Metadata[metadata.TargetsType]) {
	k.t.Helper()
	ts, snap, targ, err := k.read()
	if err != nil {
		k.t.Fatal(err)
	}
	return ts, snap, targ
}

func (k *killEnv) read() (ts *metadata.Metadata[metadata.TimestampType], snap *metadata.Metadata[metadata.SnapshotType], targ *metadata.Metadata[metadata.TargetsType], err error) {
	dir := filepath.Join(k.repo, "metadata")
	if ts, err = metadata.Timestamp().FromFile(filepath.Join(dir, "timestamp.json")); err != nil {
		return
	}
	sv := ts.Signed.Meta["snapshot.json"].Version
	if snap, err = metadata.Snapshot().FromFile(filepath.Join(dir, fmt.Sprintf("%d.snapshot.json", sv))); err != nil {
		return
	}
	tv := snap.Signed.Meta["targets.json"].Version
	targ, err = metadata.Targets().FromFile(filepath.Join(dir, fmt.Sprintf("%d.targets.json", tv)))
	return
}

// publishedTargets counts the signed targets of a version of killtest.
func (k *killEnv) publishedTargets(version string) int {
	_, _, targ := k.current()
	n := 0
	for p := range targ.Signed.Targets {
		if strings.HasPrefix(p, "models/killtest/"+version+"/") {
			n++
		}
	}
	return n
}

func (k *killEnv) publishedVersions() int {
	_, _, targ := k.current()
	n := 0
	for p := range targ.Signed.Targets {
		if strings.HasSuffix(p, "/manifest.json") {
			n++
		}
	}
	return n
}

func (k *killEnv) tempFiles() []string {
	var out []string
	filepath.Walk(k.repo, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(info.Name(), ".tmp-") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// phases are offsets from the start of an add-target process.
type phases struct {
	copy, targets, snapshot, timestamp, total time.Duration
}

// measure publishes version without interruption while polling the
// repository for the start of each phase.
func (k *killEnv) measure(version string) phases {
	k.t.Helper()
	k.writeManifest(version)
	_, snap, targ := k.current()
	vdir := filepath.Join(k.repo, "targets", "models", "killtest", version)
	nextTargets := filepath.Join(k.repo, "metadata", fmt.Sprintf("%d.targets.json", targ.Signed.Version+1))
	nextSnapshot := filepath.Join(k.repo, "metadata", fmt.Sprintf("%d.snapshot.json", snap.Signed.Version+1))
	tsPath := filepath.Join(k.repo, "metadata", "timestamp.json")
	tsBefore, err := os.Stat(tsPath)
	if err != nil {
		k.t.Fatal(err)
	}

	var ph phases
	var stop atomic.Bool
	done := make(chan struct{})
	cmd := k.command("add-target", "--repo", k.repo, "--keys", k.keys, k.bundle)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	go func() {
		defer close(done)
		exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
		for !stop.Load() {
			el := time.Since(start)
			if ph.copy == 0 {
				if entries, _ := os.ReadDir(vdir); len(entries) > 0 {
					ph.copy = el
				}
			}
			if ph.targets == 0 && exists(nextTargets) {
				ph.targets = el
			}
			if ph.snapshot == 0 && exists(nextSnapshot) {
				ph.snapshot = el
			}
			if ph.timestamp == 0 {
				if fi, err := os.Stat(tsPath); err == nil && !os.SameFile(fi, tsBefore) {
					ph.timestamp = el
				}
			}
			time.Sleep(500 * time.Microsecond)
		}
	}()
	err = cmd.Wait()
	ph.total = time.Since(start)
	stop.Store(true)
	<-done
	if err != nil {
		k.t.Fatalf("add-target %s: %v\n%s", version, err, out.Bytes())
	}
	if n := k.publishedTargets(version); n != 3 {
		k.t.Fatalf("measured add-target published %d targets", n)
	}
	// Phases the poller missed (too fast to see) start where the next one does.
	if ph.timestamp == 0 {
		ph.timestamp = ph.total
	}
	if ph.snapshot == 0 {
		ph.snapshot = ph.timestamp
	}
	if ph.targets == 0 {
		ph.targets = ph.snapshot
	}
	if ph.copy == 0 || ph.copy > ph.targets {
		k.t.Fatalf("the copy phase was not observed: %+v", ph)
	}
	return ph
}

// A killPlan says when to kill: delay after the process starts ("start"),
// after the version's first file appears under targets/ ("copy"), after
// all three of its target files are committed ("committed"), or after the
// new targets metadata file appears ("targets").
type killPlan struct {
	after string
	delay time.Duration
}

// Where kills land, as read from the repository after the kill.
const (
	whereBefore    = "before copy (startup, key decryption)"
	whereCopying   = "copying target files"
	whereCommitted = "target files committed, before targets metadata"
	whereTargets   = "metadata writes: after targets, before snapshot"
	whereSnapshot  = "metadata writes: after snapshot, before timestamp"
	wherePublished = "after publication (timestamp replaced, before exit)"
	whereFinished  = "process finished before the kill"
)

// killedRun starts add-target for version, SIGKILLs it as planned and
// reports where in the run the kill landed (from what it left on disk)
// and when, from the process start.
func (k *killEnv) killedRun(version string, plan killPlan) (string, time.Duration) {
	k.t.Helper()
	k.writeManifest(version)
	_, snap, targ := k.current()
	vdir := filepath.Join(k.repo, "targets", "models", "killtest", version)
	cmd := k.command("add-target", "--repo", k.repo, "--keys", k.keys, k.bundle)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	finished := func(err error) (string, time.Duration) {
		if err != nil {
			k.t.Fatalf("add-target %s failed on its own: %v\n%s", version, err, out.Bytes())
		}
		return whereFinished, time.Since(start)
	}

	committed := func() (n, temp int) {
		entries, _ := os.ReadDir(vdir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				temp++
			} else {
				n++
			}
		}
		return n, temp
	}
	meta := filepath.Join(k.repo, "metadata")
	exists := func(name string) bool { _, err := os.Stat(filepath.Join(meta, name)); return err == nil }
	nextTargets := fmt.Sprintf("%d.targets.json", targ.Signed.Version+1)
	// The metadata writes take a few milliseconds in all: for them, poll
	// and wait without sleeping, as timers are not that precise.
	spin := plan.after == "targets"
	trigger := start
	if plan.after != "start" {
		for {
			if plan.after == "targets" {
				if exists(nextTargets) {
					break
				}
			} else if n, temp := committed(); (plan.after == "copy" && n+temp > 0) || (plan.after == "committed" && n == 3) {
				break
			}
			if spin {
				select {
				case err := <-done:
					return finished(err)
				default:
				}
				continue
			}
			select {
			case err := <-done:
				return finished(err)
			case <-time.After(200 * time.Microsecond):
			}
		}
		trigger = time.Now()
	}
	if spin {
		for time.Since(trigger) < plan.delay {
		}
	} else {
		select {
		case err := <-done:
			return finished(err)
		case <-time.After(time.Until(trigger.Add(plan.delay))):
		}
	}
	at := time.Since(start)
	cmd.Process.Signal(syscall.SIGKILL)
	waitErr := <-done
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		return finished(waitErr)
	}

	// Classify without trusting the repository: if it cannot even be read,
	// mrepo verify says what is wrong next.
	_, _, now, err := k.read()
	if err != nil {
		return "repository unreadable after the kill: " + err.Error(), at
	}
	published := 0
	for p := range now.Signed.Targets {
		if strings.HasPrefix(p, "models/killtest/"+version+"/") {
			published++
		}
	}
	switch n, temp := committed(); {
	case published > 0:
		return wherePublished, at
	case exists(fmt.Sprintf("%d.snapshot.json", snap.Signed.Version+1)):
		return whereSnapshot, at
	case exists(nextTargets):
		return whereTargets, at
	case n == 3:
		return whereCommitted, at
	case n > 0 || temp > 0:
		return whereCopying, at
	}
	return whereBefore, at
}
