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
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/killtest"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

const (
	// killModel is the model the kill test updates.
	killModel = "killtest"
	// killPayloadSize is the size of each version's model.bin: several
	// MiB, as an update passes a crash point for every MiB it writes.
	killPayloadSize = 4 << 20
	// killRate throttles target downloads (bytes per second) so that a
	// download lasts a quarter of a second and timed kills land inside it.
	killRate = 16 << 20
	// killHealthCheck is how long the health check takes, so that timed
	// kills land while a version is on trial.
	killHealthCheck = 100 * time.Millisecond
)

// TestKillUpdate kills `mclient update` (SIGKILL) part-way, many times: at
// each crash point of an update (every MiB of a download or of a file
// rebuilt with a patch, every fsync and rename of the state directory; see
// internal/killtest), then at random times. Every other crash kill is of
// an update by a signed patch from the active version. After every kill,
// `mclient status` must name a version whose files all verify (`mclient
// verify`), a device that had an active version must still have one, and
// the next uninterrupted `mclient update` must complete with the newest
// version active. At the end no temporary or half-built directory (or
// staged file, patches included) may be left. Reproduce a run's draws
// with MCLIENT_KILL_SEED; MCLIENT_KILL_ITERATIONS sets how many crash
// points are used per kind of update (at least every distinct one) and
// MCLIENT_KILL_TIMED how many kills come at random times.
func TestKillUpdate(t *testing.T) {
	seed, maxPoints, timed, rng := killtest.Begin(t, "MCLIENT", 20261125, [2]int{16, 8}, [2]int{6, 2})

	base := t.TempDir()
	k, url, root := newKillEnv(t, base)
	k.payload = make([]byte, killPayloadSize)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)}).Read(k.payload)
	hc := filepath.Join(base, "selftest.sh")
	script := fmt.Sprintf("# A self-test that takes a while.\nsleep %.3f\n", killHealthCheck.Seconds())
	if err := os.WriteFile(hc, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	k.updateArgs = []string{"--model-id", killModel, "--health-check", "sh " + hc}

	// The device installs two versions, then a third and a fourth (by a
	// patch) while the crash points they pass are traced.
	k.state = filepath.Join(base, "device")
	k.mustRun("init", "--state", k.state, "--root", root, "--repo-url", url)
	for n := 0; n < 2; n++ {
		k.publish(n)
		k.mustRun(append([]string{"update", "--state", k.state}, k.updateArgs...)...)
	}
	k.publish(2)
	start := time.Now()
	traceFull := killtest.Trace(t, k.command(append([]string{"update", "--state", k.state}, k.updateArgs...)...))
	total := time.Since(start)
	k.publishDelta(3)
	traceDelta := killtest.Trace(t, k.command(append([]string{"update", "--state", k.state}, k.updateArgs...)...))
	t.Logf("uninterrupted update: %v, %d crash points; by a patch: %d crash points", total.Round(time.Millisecond), len(traceFull), len(traceDelta))
	if st := k.status(); st.Version != k.version(3) {
		t.Fatalf("after the traced updates: %+v", st)
	}

	landed := killtest.Tally{}
	methods := map[string]int{}
	var resumed, downloaded int64
	resumes := 0
	n := 4
	// killed runs an update to a newly published version n, killed as kill
	// says, and checks the invariants after the kill and after the next
	// update.
	killed := func(label string, delta bool, kill func(*exec.Cmd) killtest.Kill) string {
		t.Helper()
		if delta {
			k.publishDelta(n)
		} else {
			k.publish(n)
		}
		v := k.version(n)
		before := k.status()
		w := newWatch(k.state, v)
		res := kill(k.command(append([]string{"update", "--state", k.state}, k.updateArgs...)...))
		where := whereFinished
		if res.Finished {
			if res.Err != nil {
				t.Fatalf("%s: update to %s failed on its own: %v\n%s", label, v, res.Err, res.Output)
			}
		} else {
			where = w.where()
		}
		landed[where]++
		st := k.status()
		t.Logf("%s %s%s: %s%s; status names %q%s", label, v, map[bool]string{true: " (patch)"}[delta], where,
			map[bool]string{true: " at crash point " + res.Point}[res.Point != ""], st.Version, map[bool]string{true: " (on trial)"}[st.Trial])

		// The invariants after a kill.
		if before.Version != "" && st.Version == "" {
			t.Fatalf("%s (%s): %s was active before the kill, none is now", label, where, before.Version)
		}
		if st.Version != "" {
			if st.Version != before.Version && st.Version != v {
				t.Fatalf("%s (%s): status names %s, neither the version before (%q) nor the new one", label, where, st.Version, before.Version)
			}
			out, err := k.run("verify", "--state", k.state, "--model-id", killModel)
			if err != nil || !strings.HasPrefix(string(out), "OK: "+killModel+" "+st.Version+": ") {
				t.Fatalf("%s (%s): verify of %s: %v\n%s", label, where, st.Version, err, out)
			}
		}

		// The next update completes, resuming what the killed one left.
		out, err := k.run(append([]string{"update", "--state", k.state, "--json"}, k.updateArgs...)...)
		if err != nil {
			t.Fatalf("update after %s (%s): %v\n%s", label, where, err, out)
		}
		var r struct {
			Version         string `json:"version"`
			BytesDownloaded int64  `json:"bytes_downloaded"`
			BytesResumed    int64  `json:"bytes_resumed"`
			Files           []struct {
				File   string `json:"file"`
				Method string `json:"method"`
			} `json:"files"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("update after %s: %v\n%s", label, err, out)
		}
		if r.Version != v {
			t.Fatalf("update after %s (%s): %s active, want %s\n%s", label, where, r.Version, v, out)
		}
		if after := k.status(); after.Version != v || after.Trial {
			t.Fatalf("status after the update that followed %s: %+v, want %s confirmed", label, after, v)
		}
		for _, f := range r.Files {
			if f.File == "model.bin" {
				methods[f.Method]++
			}
		}
		if r.BytesResumed > 0 {
			resumes++
			resumed += r.BytesResumed
		}
		downloaded += r.BytesDownloaded
		// Versions two behind are below the floor and never needed again:
		// drop their bytes from the repository to spare the disk.
		os.RemoveAll(filepath.Join(k.repo.Dir, "targets", "models", killModel, k.version(n-2)))
		n++
		return where
	}

	// Kills at crash points: every distinct point of both kinds of update
	// at least once.
	full, delta := killtest.Sample(traceFull, maxPoints, rng), killtest.Sample(traceDelta, maxPoints, rng)
	crashLanded := killtest.Tally{}
	downloadKills := 0
	for i := 0; i < max(len(full), len(delta)); i++ {
		for _, kind := range []struct {
			delta  bool
			counts []int
			trace  []string
		}{{false, full, traceFull}, {true, delta, traceDelta}} {
			if i >= len(kind.counts) {
				continue
			}
			c := kind.counts[i]
			where := killed(fmt.Sprintf("crash #%d at %d/%d", i, c, len(kind.trace)), kind.delta, func(cmd *exec.Cmd) killtest.Kill {
				res := killtest.CrashAt(t, cmd, c)
				if res.Finished {
					t.Fatalf("update was to die at crash point %d (%s) and exited: %v\n%s", c, kind.trace[c-1], res.Err, res.Output)
				}
				return res
			})
			crashLanded[where]++
			if where == whereDownload && !kind.delta && kind.trace[c-1] == "hashcopy.written" {
				downloadKills++
			}
		}
	}
	// Every phase of an update was hit by some crash point, and an update
	// killed in a download resumed it.
	for _, w := range []string{whereDownload, whereInstall, whereTrial, whereCleanup} {
		if crashLanded[w] == 0 {
			t.Errorf("no crash point fell in the phase %q: %s", w, crashLanded.Summary())
		}
	}
	if downloadKills > 0 && resumes == 0 {
		t.Errorf("%d kills landed in downloads, but no update resumed a partial download", downloadKills)
	}

	// Kills at random times over the whole run, from process start: they
	// also land between crash points (in go-tuf's metadata writes, for
	// one). Where they land is only logged.
	for i := 0; i < timed; i++ {
		delay := time.Duration(rng.Int64N(int64(total) + 1))
		killed(fmt.Sprintf("timed #%d after %v", i, delay.Round(time.Millisecond)), i%4 == 3, func(cmd *exec.Cmd) killtest.Kill {
			return killtest.KillAfter(t, cmd, killtest.Plan{Delay: delay})
		})
	}
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
	last, prev := k.version(n-1), k.version(n-2)
	if st := k.status(); st.Version != last || strings.Join(st.Installed, ",") != prev+","+last {
		t.Errorf("final status: active %s, installed %v; want %s active and %s, %s installed", st.Version, st.Installed, last, prev, last)
	} else if len(st.Bad) > 0 {
		t.Errorf("versions marked bad although every health check passed: %v", st.Bad)
	}
	t.Logf("%d kills: %s", len(full)+len(delta)+timed, landed.Summary(whereStartup, whereDownload, whereVerify, whereInstall, whereTrial, whereCleanup, whereFinished))
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

// newKillEnv builds mclient with crash points and serves a new
// repository, throttled (killRate); it returns the repository's URL and
// its root, stored in base as the device's pinned root.
func newKillEnv(t *testing.T, base string) (k *killEnv, url, root string) {
	t.Helper()
	k = &killEnv{t: t, mclient: killtest.Build(t, "github.com/edgetuf/edgetuf/cmd/mclient"), repo: testrepo.New(t)}
	url = k.repo.Serve(t, throttle(killRate))
	root = filepath.Join(base, "pinned-root.json")
	if err := os.WriteFile(root, k.repo.Root, 0o644); err != nil {
		t.Fatal(err)
	}
	return k, url, root
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

// where says how far a killed update got, from the state directory.
func (w *watch) where() string {
	switch {
	case w.logged("confirmed"):
		return whereCleanup
	case w.logged("activated"):
		return whereTrial
	case w.logged("downloaded"):
		return whereInstall
	case w.staged() == killPayloadSize:
		return whereVerify
	case w.staged() >= 0:
		return whereDownload
	case w.logged("checked"):
		// Checked, but the staged file is not there (yet): the manifest
		// is downloaded first.
		return whereDownload
	}
	return whereStartup
}
