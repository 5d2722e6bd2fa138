package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/killtest"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// killPassphrase is a test-only value; no real secret is used in tests.
const killPassphrase = "test-only-kill-passphrase"

// killPayloadSize is the size of the bundle's main payload file:
// several MiB: add-target passes a crash point for every MiB it copies.
const killPayloadSize = 5 << 20

// TestKillAddTarget kills `mrepo add-target` (SIGKILL) part-way, many
// times: at each crash point of an add-target (every MiB copied, every
// fsync and rename of a target file or a metadata file; see
// internal/killtest), then at random times. After every kill, `mrepo
// verify` from the pinned root must pass, the version must be either
// completely published or absent, and publishing must still work.
// Reproduce a run's random draws with MREPO_KILL_SEED; MREPO_KILL_ITERATIONS
// sets how many crash points are used (at least every distinct one) and
// MREPO_KILL_TIMED how many kills come at random times.
func TestKillAddTarget(t *testing.T) {
	seed, maxPoints, timed, rng := killtest.Begin(t, "MREPO", 20300102, [2]int{24, 12}, [2]int{6, 2})

	k := newKillEnv(t)

	// The bundle: a payload of several MiB (a crash point per MiB copied)
	// and a small one; only manifest.json changes from one version to the
	// next.
	payload := make([]byte, killPayloadSize)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)}).Read(payload)
	if err := os.WriteFile(filepath.Join(k.bundle, "weights.bin"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(k.bundle, "labels.txt"), []byte("cat\ndog\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	payload = nil

	// One uninterrupted add-target, traced: the crash points it passes.
	k.writeManifest("1.0.0")
	start := time.Now()
	trace := killtest.Trace(t, k.command("add-target", "--repo", k.repo, "--keys", k.keys, k.bundle))
	total := time.Since(start)
	t.Logf("uninterrupted add-target: %v, %d crash points", total.Round(time.Millisecond), len(trace))
	k.verify("after the traced run")

	next := 1
	check := k.afterKill(t, &next, k.writeManifest, nil)
	landed := k.kills(t, trace, total, maxPoints, timed, rng, func() (string, *exec.Cmd) {
		v := fmt.Sprintf("1.0.%d", next)
		k.writeManifest(v)
		return v, k.command("add-target", "--repo", k.repo, "--keys", k.keys, k.bundle)
	}, check)
	// Every on-disk phase of a publication was hit by some crash point
	// (with -short fewer crash points are sampled than there are distinct
	// ones, so a phase may be passed over: checked only in a full run).
	k.finish(t, landed, next, !testing.Short(), whereCopying, whereCommitted, whereTargets, whereSnapshot, wherePublished)
}

// afterKill returns the check to run after every kill: the repository
// verifies, the version is all there (k.entries targets) or not at all,
// and the next add-target succeeds. *next is the number of the version
// the next run publishes (1.0.N); prepare(v) writes the bundle of version
// v; extra, if set, runs first with the killed run's version.
func (k *killEnv) afterKill(t *testing.T, next *int, prepare func(v string), extra func(v string)) func(i int, v, where string) {
	return func(i int, v, where string) {
		t.Helper()
		k.verify(fmt.Sprintf("after kill #%d (%s)", i, where))
		if extra != nil {
			extra(v)
		}
		switch n := k.publishedTargets(v); n {
		case k.entries:
			*next++
			v = fmt.Sprintf("1.0.%d", *next)
			prepare(v)
		case 0:
		default:
			t.Fatalf("kill #%d (%s): version %s is partly published: %d targets", i, where, v, n)
		}
		if out, err := k.run("add-target", "--repo", k.repo, "--keys", k.keys, k.bundle); err != nil {
			t.Fatalf("add-target %s after kill #%d (%s): %v\n%s", v, i, where, err, out)
		}
		if n := k.visibleTargets(v); n != k.entries {
			t.Fatalf("add-target %s after kill #%d: %d targets published", v, i, n)
		}
		*next++
	}
}

// finish checks the end of a kill test: if phases is set, a kill landed
// in each of phases; the repository verifies, holds no temporary file,
// and next versions are published.
func (k *killEnv) finish(t *testing.T, landed killtest.Tally, next int, phases bool, where ...string) {
	t.Helper()
	for _, w := range where {
		if landed[w] == 0 && phases {
			t.Errorf("no crash point fell in the phase %q: %s", w, landed.Summary())
		}
	}
	k.verify("at the end")
	if tmp := k.tempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left after a successful add-target: %v", tmp)
	}
	if got := k.publishedVersions(); got != next {
		t.Errorf("%d versions published, want %d", got, next)
	}
}

// kills runs the command that start prepares (it returns the version the
// run publishes) and kills it at crash points of trace (every distinct
// one at least once, maxPoints in all), then timed times at random delays
// within total from process start (they also land between crash points).
// After each kill it calls check with the kill's number, the version and
// where the kill landed (k.where), and at the end logs and returns the
// tally.
func (k *killEnv) kills(t *testing.T, trace []string, total time.Duration, maxPoints, timed int, rng *rand.Rand, start func() (string, *exec.Cmd), check func(i int, v, where string)) killtest.Tally {
	t.Helper()
	landed := killtest.Tally{}
	counts := killtest.Sample(trace, maxPoints, rng)
	k.killAt(t, trace, counts, 0, landed, start, check)
	for i := 0; i < timed; i++ {
		before := k.snapshotVersions()
		v, cmd := start()
		delay := time.Duration(rng.Int64N(int64(total+total/10) + 1))
		kill := killtest.KillAfter(t, cmd, killtest.Plan{Delay: delay})
		where := whereFinished
		if kill.Finished {
			if kill.Err != nil {
				t.Fatalf("add-target %s failed on its own: %v\n%s", v, kill.Err, kill.Output)
			}
		} else {
			where = k.where(v, before)
		}
		landed[where]++
		t.Logf("timed #%d %s: kill at %v: %s", i, v, kill.At.Round(100*time.Microsecond), where)
		check(len(counts)+i, v, where)
	}
	t.Logf("%d kills: %s", len(counts)+timed, landed.Summary(whereBefore, whereCopying, whereCommitted, whereTargets, whereSnapshot, wherePublished, whereFinished))
	return landed
}

// killAt runs the command that start prepares and kills it at each crash
// point of counts (1-based indices into trace), tallying in landed where
// each kill landed and calling check after it; kills are numbered from
// first.
func (k *killEnv) killAt(t *testing.T, trace []string, counts []int, first int, landed killtest.Tally, start func() (string, *exec.Cmd), check func(i int, v, where string)) {
	t.Helper()
	for i, n := range counts {
		before := k.snapshotVersions()
		v, cmd := start()
		kill := killtest.CrashAt(t, cmd, n)
		if kill.Finished {
			t.Fatalf("add-target %s was to die at crash point %d (%s) and exited: %v\n%s", v, n, trace[n-1], kill.Err, kill.Output)
		}
		where := k.where(v, before)
		landed[where]++
		t.Logf("#%d %s: killed at crash point %d of %d (%s): %s", first+i, v, n, len(trace), kill.Point, where)
		check(first+i, v, where)
	}
}

type killEnv struct {
	t                                 *testing.T
	mrepo, repo, keys, bundle, pinned string
	env                               []string
	// entries is how many names a complete version has in its target
	// directory (files, deltas/, keys/).
	entries int
}

// newKillEnv builds mrepo with crash points and creates a repository,
// its pinned root, and an empty bundle directory.
func newKillEnv(t *testing.T) *killEnv {
	base := t.TempDir()
	k := &killEnv{
		t:       t,
		mrepo:   killtest.Build(t, "github.com/edgetuf/edgetuf/cmd/mrepo"),
		repo:    filepath.Join(base, "repo"),
		keys:    filepath.Join(base, "keys"),
		bundle:  filepath.Join(base, "bundle"),
		pinned:  filepath.Join(base, "pinned-root.json"),
		env:     append(os.Environ(), "MREPO_PASSPHRASE="+killPassphrase),
		entries: 3,
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
	if err := os.MkdirAll(k.bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	return k
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

// head reads the state writers build on: the newest committed snapshot,
// which the next publication's timestamp names (a publisher killed after
// its snapshot has published; docs/design.md section 6).
func (k *killEnv) head() *repofiles.State {
	k.t.Helper()
	st, _, err := repofiles.ReadHeadState(afero.NewOsFs(), k.repo)
	if err != nil {
		k.t.Fatal(err)
	}
	return st
}

// publishedTargets counts the signed targets of a version of killtest
// that are committed (in the head state).
func (k *killEnv) publishedTargets(version string) int {
	return countVersion(k.head().Targets, version)
}

// visibleTargets counts those clients see (through timestamp.json).
func (k *killEnv) visibleTargets(version string) int {
	_, _, targ := k.current()
	return countVersion(targ, version)
}

func countVersion(targ *metadata.Metadata[metadata.TargetsType], version string) int {
	n := 0
	for p := range targ.Signed.Targets {
		if strings.HasPrefix(p, "models/killtest/"+version+"/") {
			n++
		}
	}
	return n
}

func (k *killEnv) publishedVersions() int {
	targ := k.head().Targets
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

// metaVersions are the versions of targets and snapshot metadata before
// a killed run.
type metaVersions struct{ targets, snapshot int64 }

func (k *killEnv) snapshotVersions() metaVersions {
	k.t.Helper()
	st := k.head()
	return metaVersions{st.Targets.Signed.Version, st.Snapshot.Signed.Version}
}

// where says how far a killed add-target of version got, from what it
// left on disk (without trusting it: mrepo verify checks it next).
func (k *killEnv) where(version string, before metaVersions) string {
	k.t.Helper()
	_, _, now, err := k.read()
	if err != nil {
		return "repository unreadable after the kill: " + err.Error()
	}
	published := 0
	for p := range now.Signed.Targets {
		if strings.HasPrefix(p, "models/killtest/"+version+"/") {
			published++
		}
	}
	committed, temp := 0, 0
	entries, _ := os.ReadDir(filepath.Join(k.repo, "targets", "models", "killtest", version))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			temp++
		} else {
			committed++
		}
	}
	meta := filepath.Join(k.repo, "metadata")
	exists := func(name string) bool { _, err := os.Stat(filepath.Join(meta, name)); return err == nil }
	switch {
	case published > 0:
		return wherePublished
	case exists(fmt.Sprintf("%d.snapshot.json", before.snapshot+1)):
		return whereSnapshot
	case exists(fmt.Sprintf("%d.targets.json", before.targets+1)):
		return whereTargets
	case committed == k.entries:
		return whereCommitted
	case committed > 0 || temp > 0:
		return whereCopying
	}
	return whereBefore
}
