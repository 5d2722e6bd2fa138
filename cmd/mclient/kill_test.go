package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

const (
	// killModel is the model the kill test updates.
	killModel = "killtest"
	// killPayloadSize is the size of each version's model.bin: large
	// enough that its download, hashing and removal take a visible time.
	killPayloadSize = 24 << 20
	// killRate throttles target downloads (bytes per second) so that a
	// download lasts about half a second and kills land inside it.
	killRate = 48 << 20
	// killTail is the end of the download where the kills aimed at the
	// verification and installation start: they land in the last part of
	// the download, the final hash and sync, the installation or the
	// pointer switch.
	killTail = 20 * time.Millisecond
	// killHealthCheck is how long the health check takes, so that kills
	// land while a version is on trial.
	killHealthCheck = 150 * time.Millisecond
)

// TestKillUpdate kills `mclient update` (SIGKILL) at random points of the
// download, the verification and installation, the activation (pointer
// switch, health check, confirmation) and the cleanup, many times in a
// loop. After every kill, `mclient status` must name a version whose files
// all verify (`mclient verify`), a device that had an active version must
// still have one, and the next uninterrupted `mclient update` must complete
// with the newest version active. Every fourth version is published with
// a patch from the previous one, so some kills land while the patch is
// downloaded or applied. At the end no temporary or half-built directory
// (or staged file, patches included) may be left. Reproduce a run with MCLIENT_KILL_SEED (and change
// its length with MCLIENT_KILL_ITERATIONS); timing makes the exact kill
// points vary between machines.
func TestKillUpdate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	mclient, err := exec.LookPath("mclient")
	if err != nil {
		t.Fatalf("mclient is not on PATH (TestMain installs it): %v", err)
	}
	seed := uint64(20261125)
	if s := os.Getenv("MCLIENT_KILL_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("MCLIENT_KILL_SEED: %v", err)
		}
	}
	iterations := 30
	if testing.Short() {
		iterations = 10
	}
	if s := os.Getenv("MCLIENT_KILL_ITERATIONS"); s != "" {
		if iterations, err = strconv.Atoi(s); err != nil {
			t.Fatalf("MCLIENT_KILL_ITERATIONS: %v", err)
		}
	}
	t.Logf("seed %d, %d iterations (MCLIENT_KILL_SEED=%d reproduces the draws)", seed, iterations, seed)
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))

	base := t.TempDir()
	k := &killEnv{t: t, mclient: mclient, repo: testrepo.New(t)}
	k.payload = make([]byte, killPayloadSize)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)}).Read(k.payload)
	url := k.repo.Serve(t, throttle(killRate))
	root := filepath.Join(base, "pinned-root.json")
	if err := os.WriteFile(root, k.repo.Root, 0o644); err != nil {
		t.Fatal(err)
	}
	hc := filepath.Join(base, "selftest.sh")
	script := fmt.Sprintf("# A self-test that takes a while.\nsleep %.3f\n", killHealthCheck.Seconds())
	if err := os.WriteFile(hc, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	k.updateArgs = []string{"--model-id", killModel, "--health-check", "sh " + hc}

	// The device installs two versions, then a third while the test
	// watches the state directory to see when each phase of an update
	// starts (that one also removes the oldest version).
	k.state = filepath.Join(base, "device")
	k.mustRun("init", "--state", k.state, "--root", root, "--repo-url", url)
	for n := 0; n < 2; n++ {
		k.publish(n)
		k.mustRun(append([]string{"update", "--state", k.state}, k.updateArgs...)...)
	}
	k.publish(2)
	ph := k.measure(k.state, k.version(2))
	t.Logf("uninterrupted update: %v total; download starts at %v, install at %v, activation at %v, cleanup at %v",
		ph.total.Round(time.Millisecond), ph.download.Round(time.Millisecond), ph.install.Round(time.Millisecond),
		ph.activate.Round(time.Millisecond), ph.cleanup.Round(time.Millisecond))

	// Where to kill: a sixth of the runs at a delay drawn over the whole
	// measured run, a sixth over its start (the TUF refresh), from process
	// start; the others from an event seen in the state directory, over
	// the phase it starts: the download once the staged file appears; its
	// end, verification and installation from the same event (the download
	// takes a steady time); the activation (trial, health check,
	// confirmation) once it is logged; the cleanup once the new version is
	// confirmed.
	plan := func(i int) killPlan {
		uniform := func(d time.Duration) time.Duration { return time.Duration(rng.Int64N(int64(d) + 1)) }
		switch i % 6 {
		case 0:
			return killPlan{after: afterStart, delay: uniform(ph.total)}
		case 1:
			return killPlan{after: afterStart, delay: uniform(ph.download)}
		case 2:
			return killPlan{after: afterDownload, delay: uniform(ph.install - ph.download)}
		case 3:
			return killPlan{after: afterDownload, delay: ph.install - ph.download - killTail + uniform(killTail+ph.activate-ph.install+2*time.Millisecond)}
		case 4:
			return killPlan{after: afterActivated, delay: uniform(ph.cleanup - ph.activate)}
		default:
			return killPlan{after: afterConfirmed, delay: uniform(ph.total - ph.cleanup)}
		}
	}

	landed := map[string]int{}
	methods := map[string]int{}
	var inKill, inCheck, inUpdate time.Duration
	var resumed, downloaded int64
	resumes := 0
	start := time.Now()
	first := 3
	for i := 0; i < iterations; i++ {
		n := first + i
		// Every fourth version comes with a patch from the one before
		// (active on the device), so that kills also land while a patch
		// is downloaded or applied. Such a run is short: the patch is
		// tiny and applying it rebuilds the file in a fraction of the
		// time its download takes, so its kills aim at the start of the
		// rebuilt file (in staging) or anywhere in the first half of a
		// full run.
		delta := i%4 == 3
		if delta {
			k.publishDelta(n)
		} else {
			k.publish(n)
		}
		v := k.version(n)
		before := k.status()
		p := plan(i)
		if delta {
			if (i/4)%2 == 0 {
				p = killPlan{after: afterDownload, delay: time.Duration(rng.Int64N(int64(ph.install-ph.download)/3 + 1))}
			} else {
				p = killPlan{after: afterStart, delay: time.Duration(rng.Int64N(int64(ph.total)/2 + 1))}
			}
		}

		t1 := time.Now()
		where, at := k.killedRun(v, p)
		t2 := time.Now()
		landed[where]++
		st := k.status()
		t.Logf("#%d %s%s: kill %v after %s, at %v: %s; status names %q%s", i, v, map[bool]string{true: " (patch)"}[delta], p.delay.Round(100*time.Microsecond), p.after,
			at.Round(time.Millisecond), where, st.Version, map[bool]string{true: " (on trial)"}[st.Trial])

		// The invariants after a kill.
		if before.Version != "" && st.Version == "" {
			t.Fatalf("kill #%d (%s): %s was active before the kill, none is now", i, where, before.Version)
		}
		if st.Version != "" {
			if st.Version != before.Version && st.Version != v {
				t.Fatalf("kill #%d (%s): status names %s, neither the version before (%q) nor the new one", i, where, st.Version, before.Version)
			}
			out, err := k.run("verify", "--state", k.state, "--model-id", killModel)
			if err != nil || !strings.HasPrefix(string(out), "OK: "+killModel+" "+st.Version+": ") {
				t.Fatalf("kill #%d (%s): verify of %s: %v\n%s", i, where, st.Version, err, out)
			}
		}
		t3 := time.Now()

		// The next update completes, resuming what the killed one left.
		out, err := k.run(append([]string{"update", "--state", k.state, "--json"}, k.updateArgs...)...)
		if err != nil {
			t.Fatalf("update after kill #%d (%s): %v\n%s", i, where, err, out)
		}
		var res struct {
			Outcome         string `json:"outcome"`
			Version         string `json:"version"`
			BytesDownloaded int64  `json:"bytes_downloaded"`
			BytesResumed    int64  `json:"bytes_resumed"`
			Files           []struct {
				File   string `json:"file"`
				Method string `json:"method"`
			} `json:"files"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("update after kill #%d: %v\n%s", i, err, out)
		}
		if res.Version != v {
			t.Fatalf("update after kill #%d (%s): %s active, want %s\n%s", i, where, res.Version, v, out)
		}
		if after := k.status(); after.Version != v || after.Trial {
			t.Fatalf("status after the update that followed kill #%d: %+v, want %s confirmed", i, after, v)
		}
		for _, f := range res.Files {
			if f.File == "model.bin" {
				methods[f.Method]++
			}
		}
		if res.BytesResumed > 0 {
			resumes++
			resumed += res.BytesResumed
		}
		downloaded += res.BytesDownloaded
		inKill, inCheck, inUpdate = inKill+t2.Sub(t1), inCheck+t3.Sub(t2), inUpdate+time.Since(t3)
		// Versions two behind are below the floor and never needed again:
		// drop their bytes from the repository to spare the disk.
		if n >= 3 {
			os.RemoveAll(filepath.Join(k.repo.Dir, "targets", "models", killModel, k.version(n-2)))
		}
	}
	t.Logf("time in killed runs %v, status and verify %v, updates after the kill %v",
		inKill.Round(100*time.Millisecond), inCheck.Round(100*time.Millisecond), inUpdate.Round(100*time.Millisecond))
	t.Logf("updates after a kill resumed %d partial downloads (%.1f MiB kept), downloaded %.1f MiB; model.bin obtained by method: %v",
		resumes, float64(resumed)/(1<<20), float64(downloaded)/(1<<20), methods)

	// Nothing is left behind: no temporary file, no half-built or
	// half-removed version directory, nothing in staging; only the active
	// and the previous versions are installed.
	var leaks []string
	filepath.WalkDir(k.state, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if strings.HasPrefix(name, ".install-") || atomicfs.IsTemp(name) || strings.HasPrefix(name, "tuf_tmp") ||
			strings.HasSuffix(name, ".part") || strings.HasSuffix(name, ".new") || strings.HasSuffix(name, ".old") {
			leaks = append(leaks, strings.TrimPrefix(p, k.state+"/"))
		}
		return nil
	})
	if len(leaks) > 0 {
		t.Errorf("left behind after the final update: %v", leaks)
	}
	if staged, _ := os.ReadDir(filepath.Join(k.state, "staging", killModel)); len(staged) > 0 {
		t.Errorf("staging is not empty after the final update: %d entries", len(staged))
	}
	last, prev := k.version(first+iterations-1), k.version(first+iterations-2)
	if st := k.status(); st.Version != last || strings.Join(st.Installed, ",") != prev+","+last {
		t.Errorf("final status: active %s, installed %v; want %s active and %s, %s installed", st.Version, st.Installed, last, prev, last)
	} else if len(st.Bad) > 0 {
		t.Errorf("versions marked bad although every health check passed: %v", st.Bad)
	}

	var summary []string
	for _, w := range []string{whereStartup, whereDownload, whereVerify, whereInstall, whereTrial, whereCleanup, whereFinished} {
		summary = append(summary, fmt.Sprintf("%d %s", landed[w], w))
	}
	t.Logf("%d kills in %v: %s", iterations, time.Since(start).Round(100*time.Millisecond), strings.Join(summary, "; "))
	if iterations >= 10 {
		for _, w := range []string{whereDownload, whereTrial} {
			if landed[w] == 0 {
				t.Errorf("no kill landed in %s: the delays do not cover the run", w)
			}
		}
		if landed[whereDownload] > 0 && resumes == 0 {
			t.Errorf("kills landed in downloads, but no update resumed a partial download")
		}
	}
}

// throttle slows down target downloads to rate bytes per second, writing
// in small chunks, so that a kill can land in the middle of one.
func throttle(rate int64) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.HasPrefix(req.URL.Path, "/targets/") {
				w = &throttledWriter{ResponseWriter: w, rate: rate, start: time.Now()}
			}
			h.ServeHTTP(w, req)
		})
	}
}

type throttledWriter struct {
	http.ResponseWriter
	rate  int64
	start time.Time
	sent  int64
}

func (w *throttledWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), 64<<10)
		m, err := w.ResponseWriter.Write(p[:n])
		written += m
		w.sent += int64(m)
		if err != nil {
			return written, err
		}
		p = p[n:]
		if d := time.Until(w.start.Add(time.Duration(w.sent * int64(time.Second) / w.rate))); d > 0 {
			time.Sleep(d)
		}
	}
	return written, nil
}

type killEnv struct {
	t          *testing.T
	mclient    string
	repo       *testrepo.Repo
	payload    []byte
	state      string
	updateArgs []string
}

func (k *killEnv) version(n int) string { return fmt.Sprintf("1.0.%d", n) }

// publish publishes version n: model.bin differs from one version to the
// next in its first eight bytes.
func (k *killEnv) publish(n int) {
	k.t.Helper()
	binary.BigEndian.PutUint64(k.payload, uint64(n))
	k.repo.Publish(k.t, killModel, k.version(n), map[string][]byte{
		"model.bin":  k.payload,
		"labels.txt": []byte("cat\ndog\n"),
	}, targets.Compat{})
}

// publishDelta publishes version n as publish does, with a patch of
// model.bin from version n-1.
func (k *killEnv) publishDelta(n int) {
	k.t.Helper()
	binary.BigEndian.PutUint64(k.payload, uint64(n))
	start := time.Now()
	res := k.repo.PublishWithDeltas(k.t, killModel, k.version(n), map[string][]byte{
		"model.bin":  k.payload,
		"labels.txt": []byte("cat\ndog\n"),
	}, targets.Compat{}, []string{k.version(n - 1)})
	for _, d := range res.Deltas {
		if d.File == "model.bin" && d.Published {
			k.t.Logf("published %s with a %d-byte patch of model.bin from %s in %v", k.version(n), d.Length, d.Base, time.Since(start).Round(time.Millisecond))
			return
		}
	}
	k.t.Fatalf("no patch of model.bin published for %s: %+v", k.version(n), res.Deltas)
}

func (k *killEnv) command(args ...string) *exec.Cmd {
	cmd := exec.Command(k.mclient, args...)
	cmd.Env = append(os.Environ(), "FAKETIME=")
	return cmd
}

func (k *killEnv) run(args ...string) ([]byte, error) {
	cmd := k.command(args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		out = append(out, stderr.Bytes()...)
	}
	return out, err
}

func (k *killEnv) mustRun(args ...string) []byte {
	k.t.Helper()
	out, err := k.run(args...)
	if err != nil {
		k.t.Fatalf("mclient %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

type killStatus struct {
	Version   string   `json:"version"`
	Path      string   `json:"path"`
	Trial     bool     `json:"trial"`
	Installed []string `json:"installed"`
	Bad       []string `json:"bad_versions"`
}

// status runs mclient status --json.
func (k *killEnv) status() killStatus {
	k.t.Helper()
	out := k.mustRun("status", "--state", k.state, "--model-id", killModel, "--json")
	var st killStatus
	if err := json.Unmarshal(out, &st); err != nil {
		k.t.Fatalf("status: %v\n%s", err, out)
	}
	if st.Version != "" && st.Path != filepath.Join(k.state, "models", killModel, st.Version) {
		k.t.Fatalf("status names %s at %s", st.Version, st.Path)
	}
	return st
}

// watch reports what an update run of version has done so far, from the
// state directory: the events it logged (after offset) and the staged file.
type watch struct {
	state, version string
	offset         int64
}

func newWatch(state, version string) *watch {
	w := &watch{state: state, version: version}
	if fi, err := os.Stat(filepath.Join(state, "events.jsonl")); err == nil {
		w.offset = fi.Size()
	}
	return w
}

// logged reports whether the run logged event for its version.
func (w *watch) logged(event string) bool {
	f, err := os.Open(filepath.Join(w.state, "events.jsonl"))
	if err != nil {
		return false
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := f.Seek(w.offset, 0); err != nil {
		return false
	}
	buf.ReadFrom(f)
	needle := fmt.Sprintf(`"event":%q`, event)
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, needle) && (event == "checked" || strings.Contains(line, fmt.Sprintf(`"to_version":%q`, w.version))) {
			return true
		}
	}
	return false
}

// staged returns the size of the staged model.bin, or -1 if there is none.
func (w *watch) staged() int64 {
	fi, err := os.Stat(filepath.Join(w.state, "staging", killModel, w.version, "model.bin.part"))
	if err != nil {
		return -1
	}
	return fi.Size()
}

// phases are offsets from the start of an update process.
type phases struct {
	download, install, activate, cleanup, total time.Duration
}

// measure runs one uninterrupted update while polling the state directory
// for the start of each phase.
func (k *killEnv) measure(state, version string) phases {
	k.t.Helper()
	w := newWatch(state, version)
	cmd := k.command(append([]string{"update", "--state", state}, k.updateArgs...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var ph phases
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				k.t.Fatalf("measured update: %v\n%s", err, out.Bytes())
			}
			finished = true
		case <-time.After(200 * time.Microsecond):
		}
		el := time.Since(start)
		if ph.download == 0 && w.staged() >= 0 {
			ph.download = el
		}
		if ph.install == 0 && (w.staged() == killPayloadSize || w.logged("downloaded")) {
			ph.install = el
		}
		if ph.activate == 0 && w.logged("activated") {
			ph.activate = el
		}
		if ph.cleanup == 0 && w.logged("confirmed") {
			ph.cleanup = el
		}
	}
	ph.total = time.Since(start)
	if ph.download == 0 || ph.install <= ph.download || ph.activate < ph.install || ph.cleanup <= ph.activate {
		k.t.Fatalf("the phases of the update were not all observed: %+v", ph)
	}
	return ph
}

// A killPlan says when to kill: delay after the process starts, or after
// the event that starts a phase is seen in the state directory.
type killPlan struct {
	after string
	delay time.Duration
}

const (
	afterStart     = "start"
	afterDownload  = "download start"
	afterActivated = "activation"
	afterConfirmed = "confirmation"
)

// Where kills land, read from the state directory after the kill.
const (
	whereStartup  = "startup and TUF refresh"
	whereDownload = "download"
	whereVerify   = "verification (file complete, hash and manifest checks)"
	whereInstall  = "installation (moving into place, pointer switch)"
	whereTrial    = "activation (on trial: health check, confirmation)"
	whereCleanup  = "cleanup (old versions, staging, result)"
	whereFinished = "process finished before the kill"
)

// killedRun starts an update to version, SIGKILLs it as planned, and
// reports where in the run the kill landed and when, from the start.
func (k *killEnv) killedRun(version string, p killPlan) (string, time.Duration) {
	k.t.Helper()
	w := newWatch(k.state, version)
	cmd := k.command(append([]string{"update", "--state", k.state}, k.updateArgs...)...)
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
			k.t.Fatalf("update to %s failed on its own: %v\n%s", version, err, out.Bytes())
		}
		return whereFinished, time.Since(start)
	}

	reached := func() bool {
		switch p.after {
		case afterDownload:
			return w.staged() >= 0
		case afterActivated:
			return w.logged("activated")
		case afterConfirmed:
			return w.logged("confirmed")
		}
		return true
	}
	// The short phases last milliseconds: for them, poll and wait without
	// sleeping, as timers are not that precise.
	spin := p.after == afterConfirmed
	trigger := start
	if p.after != afterStart {
		for !reached() {
			select {
			case err := <-done:
				return finished(err)
			default:
			}
			if !spin {
				time.Sleep(200 * time.Microsecond)
			}
		}
		trigger = time.Now()
	}
	if spin {
		for time.Since(trigger) < p.delay {
		}
	} else {
		select {
		case err := <-done:
			return finished(err)
		case <-time.After(time.Until(trigger.Add(p.delay))):
		}
	}
	at := time.Since(start)
	cmd.Process.Signal(syscall.SIGKILL)
	waitErr := <-done
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		return finished(waitErr)
	}

	switch {
	case w.logged("confirmed"):
		return whereCleanup, at
	case w.logged("activated"):
		return whereTrial, at
	case w.logged("downloaded"):
		return whereInstall, at
	case w.staged() == killPayloadSize:
		return whereVerify, at
	case w.staged() >= 0:
		return whereDownload, at
	case w.logged("checked"):
		// Checked, but the staged file is not there (yet): the manifest
		// is downloaded first.
		return whereDownload, at
	}
	return whereStartup, at
}
