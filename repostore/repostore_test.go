package repostore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/internal/repostoretest"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/repostore"
	"github.com/edgetuf/edgetuf/storage"
	"github.com/edgetuf/edgetuf/storage/storagetest"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// noSleep replaces the backoff: the tests never depend on timing.
func noSleep(context.Context, time.Duration) error { runtime.Gosched(); return nil }

var fast = repostore.RunOptions{Sleep: noSleep}

// TestConcurrentPublishersMemory: 8 publishers x 5 versions at once on
// one repository; every publication is visible, verify is clean and
// timestamp.json only moved forward.
func TestConcurrentPublishersMemory(t *testing.T) {
	attempts := repostoretest.ConcurrentPublishers(t, storage.NewMemory(), 8, 5, fast)
	if len(attempts) != 40 {
		t.Fatalf("%d publications succeeded, want 40", len(attempts))
	}
	t.Logf("attempts per publication: %v", attempts)
}

// TestConcurrentPublishersFile: the same on a file:// directory, whose
// conditions hold across processes through a flock.
func TestConcurrentPublishersFile(t *testing.T) {
	b, err := storage.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if attempts := repostoretest.ConcurrentPublishers(t, b, 8, 5, fast); len(attempts) != 40 {
		t.Fatalf("%d publications succeeded, want 40", len(attempts))
	}
}

// begin opens a session on b and closes it with t.
func begin(t *testing.T, b storage.Backend) *repostore.Session {
	t.Helper()
	s, err := repostore.Begin(context.Background(), b, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// addTarget runs add-target of bundle in session s, without committing.
func addTarget(t *testing.T, s *repostore.Session, kr keys.Keyring, bundle string) {
	t.Helper()
	r, err := repo.Open(s.Fs(), s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddTarget(bundle, kr, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
}

// objects lists every name in b with its ETag.
func objects(t *testing.T, b storage.Backend) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := b.List(context.Background(), "", func(n string, a storage.Attrs) error { out[n] = a.ETag; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameObjects(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func visible(t *testing.T, b storage.Backend, fx *repostoretest.Fixture, paths ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
	}
	repostoretest.CheckVisible(t, b, fx.Root, want)
}

func clientState(t *testing.T, b storage.Backend) *repofiles.State {
	t.Helper()
	s := begin(t, b)
	st, err := repofiles.ReadState(s.Fs(), s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSnapshotRace: two publishers build on the same state; the first to
// commit wins, the second gets ErrConflict with nothing visible changed,
// and run again it builds on the winner: both publications visible.
func TestSnapshotRace(t *testing.T) {
	b := storage.NewMemory()
	fx := repostoretest.Seed(t, b)
	a, c := begin(t, b), begin(t, b)
	addTarget(t, a, fx.Keys, repostoretest.Bundle(t, "a", "1.0.0"))
	addTarget(t, c, fx.Keys, repostoretest.Bundle(t, "c", "1.0.0"))
	if res, err := a.Commit(context.Background()); err != nil || res.TimestampLost || res.Snapshot != 2 {
		t.Fatalf("first commit: %+v, %v", res, err)
	}
	before := objects(t, b)
	_, err := c.Commit(context.Background())
	if !errors.Is(err, repostore.ErrConflict) {
		t.Fatalf("second commit: %v, want ErrConflict", err)
	}
	after := objects(t, b)
	for _, n := range []string{"metadata/timestamp.json", "metadata/2.snapshot.json", "metadata/2.targets.json"} {
		if before[n] != after[n] {
			t.Errorf("%s changed by the losing publisher", n)
		}
	}
	res, err := repostoretest.AddTarget(context.Background(), b, fx.Keys, repostoretest.Bundle(t, "c", "1.0.0"), fast)
	if err != nil || res.Snapshot != 3 {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	visible(t, b, fx, targets.ManifestPath("a", "1.0.0"), targets.ManifestPath("c", "1.0.0"))
}

// failing is a Backend whose Puts of names for which fail returns true
// fail, as if the publisher died just before them.
type failing struct {
	storage.Backend
	fail func(name string) bool
}

var errDied = errors.New("publisher died")

func (f *failing) Put(ctx context.Context, name string, r io.Reader, o storage.PutOptions) error {
	if f.fail(name) {
		return errDied
	}
	return f.Backend.Put(ctx, name, r, o)
}

// TestKilledBetweenSnapshotAndTimestamp: a publisher dies after its
// snapshot is written and before timestamp.json. Its publication is not
// lost: the next publisher builds on that snapshot, and its timestamp
// makes both visible; a timestamp run alone does the same.
func TestKilledBetweenSnapshotAndTimestamp(t *testing.T) {
	for _, next := range []string{"add-target", "timestamp"} {
		t.Run(next, func(t *testing.T) {
			b := storage.NewMemory()
			fx := repostoretest.Seed(t, b)
			dying := &failing{Backend: b, fail: func(n string) bool { return n == "metadata/timestamp.json" }}
			_, err := repostoretest.AddTarget(context.Background(), dying, fx.Keys, repostoretest.Bundle(t, "a", "1.0.0"), fast)
			if !errors.Is(err, errDied) {
				t.Fatalf("dying publisher: %v", err)
			}
			if st := clientState(t, b); st.Snapshot.Signed.Version != 1 {
				t.Fatalf("clients see snapshot %d before the next publication", st.Snapshot.Signed.Version)
			}
			want := []string{targets.ManifestPath("a", "1.0.0")}
			if next == "add-target" {
				if _, err := repostoretest.AddTarget(context.Background(), b, fx.Keys, repostoretest.Bundle(t, "b", "1.0.0"), fast); err != nil {
					t.Fatal(err)
				}
				want = append(want, targets.ManifestPath("b", "1.0.0"))
			} else {
				timestamp(t, b, fx.Keys, fast)
			}
			visible(t, b, fx, want...)
		})
	}
}

func timestamp(t *testing.T, b storage.Backend, kr keys.Keyring, o repostore.RunOptions) *repostore.CommitResult {
	t.Helper()
	res, err := repostore.Run(context.Background(), b, o, func(fs afero.Fs, dir string) error {
		r, err := repo.Open(fs, dir)
		if err != nil {
			return err
		}
		_, err = r.Timestamp(kr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestOrphanVersionsSkipped: a publisher that died after writing
// N.targets.json (and before its snapshot) leaves an orphan nobody
// references; the next publisher takes N+1 and leaves the orphan as it
// is.
func TestOrphanVersionsSkipped(t *testing.T) {
	b := storage.NewMemory()
	fx := repostoretest.Seed(t, b)
	dying := &failing{Backend: b, fail: func(n string) bool { return strings.HasSuffix(n, ".snapshot.json") }}
	if _, err := repostoretest.AddTarget(context.Background(), dying, fx.Keys, repostoretest.Bundle(t, "a", "1.0.0"), fast); !errors.Is(err, errDied) {
		t.Fatalf("dying publisher: %v", err)
	}
	orphan := objects(t, b)["metadata/2.targets.json"]
	if orphan == "" {
		t.Fatal("no orphan 2.targets.json")
	}
	if _, err := repostoretest.AddTarget(context.Background(), b, fx.Keys, repostoretest.Bundle(t, "b", "1.0.0"), fast); err != nil {
		t.Fatal(err)
	}
	st := clientState(t, b)
	if v := st.Targets.Signed.Version; v != 3 {
		t.Errorf("targets version %d after the orphan 2, want 3", v)
	}
	if objects(t, b)["metadata/2.targets.json"] != orphan {
		t.Error("the orphan was overwritten")
	}
	visible(t, b, fx, targets.ManifestPath("b", "1.0.0"))
	if st.Targets.Signed.Targets[targets.ManifestPath("a", "1.0.0")] != nil {
		t.Error("the dead publisher's version is visible")
	}
}

// TestTimestampCASLost: timestamp.json is replaced by another publisher
// between this publisher's read and its commit. Its snapshot is committed
// all the same; Run rolls timestamp.json forward to it (never backwards).
func TestTimestampCASLost(t *testing.T) {
	b := storage.NewMemory()
	fx := repostoretest.Seed(t, b)
	mb := &repostoretest.MonotonicTimestamp{Backend: b}
	bundle := repostoretest.Bundle(t, "a", "1.0.0")
	raced := false
	o := fast
	o.Timestamp = func(fs afero.Fs, dir string) error {
		r, err := repo.Open(fs, dir)
		if err == nil {
			_, err = r.Timestamp(fx.Keys)
		}
		return err
	}
	res, err := repostore.Run(context.Background(), mb, o, func(fs afero.Fs, dir string) error {
		r, err := repo.Open(fs, dir)
		if err != nil {
			return err
		}
		if _, err := r.AddTarget(bundle, fx.Keys, repo.AddOptions{}); err != nil {
			return err
		}
		if !raced { // a cron timestamp run lands before this commit
			raced = true
			timestamp(t, mb, fx.Keys, fast)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimestampLost || res.Attempts != 1 || res.Snapshot != 2 {
		t.Fatalf("result %+v, want the timestamp lost after snapshot 2 in one attempt", res)
	}
	if err := mb.Err(); err != nil {
		t.Error(err)
	}
	st := clientState(t, b)
	if st.Timestamp.Signed.Version != 3 || st.Snapshot.Signed.Version != 2 {
		t.Errorf("timestamp %d naming snapshot %d, want 3 naming 2", st.Timestamp.Signed.Version, st.Snapshot.Signed.Version)
	}
	visible(t, b, fx, targets.ManifestPath("a", "1.0.0"))
}

// TestForgedSnapshotRefused: someone with write access to the bucket but
// not the snapshot key puts a newer N.snapshot.json there. Writers build
// on the newest snapshot, check its signatures, and refuse: a
// stored-metadata error, nothing written.
func TestForgedSnapshotRefused(t *testing.T) {
	b := storage.NewMemory()
	fx := repostoretest.Seed(t, b)
	s := begin(t, b)
	st, err := repofiles.ReadState(s.Fs(), s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	forged := st.Snapshot
	forged.Signed.Version = 2
	forged.Signed.Meta["targets.json"].Version = 1
	// Signed by the targets key, which the root does not trust for snapshot.
	targetsKey := fx.Keys[st.Root.Signed.Roles[metadata.TARGETS].KeyIDs[0]]
	signer, err := targetsKey.Signer()
	if err != nil {
		t.Fatal(err)
	}
	forged.ClearSignatures()
	if _, err := forged.Sign(signer); err != nil {
		t.Fatal(err)
	}
	data, err := forged.ToBytes(true)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(context.Background(), "metadata/2.snapshot.json", strings.NewReader(string(data)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	requireAddTargetRefused(t, b, fx, "a forged snapshot", "")
}

// requireAddTargetRefused publishes a version into b and requires a
// stored-metadata error (whose message holds msg) and nothing written.
func requireAddTargetRefused(t *testing.T, b storage.Backend, fx *repostoretest.Fixture, what, msg string) {
	t.Helper()
	before := objects(t, b)
	_, err := repostoretest.AddTarget(context.Background(), b, fx.Keys, repostoretest.Bundle(t, "a", "1.0.0"), fast)
	if !errors.Is(err, repo.ErrStoredMetadata) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("add-target on %s: %v, want ErrStoredMetadata (%q)", what, err, msg)
	}
	if !sameObjects(before, objects(t, b)) {
		t.Error("the refused publication wrote to the backend")
	}
}

// TestReplayedSnapshotRefused: someone with write access to the bucket
// copies an old, validly signed snapshot (version 1) to the next name
// (2.snapshot.json), so that writers would adopt it and build on its older
// targets. The version it records is not its name's: refused, nothing
// written.
func TestReplayedSnapshotRefused(t *testing.T) {
	b := storage.NewMemory()
	fx := repostoretest.Seed(t, b)
	old, _ := storagetest.Read(t, b, "metadata/1.snapshot.json")
	if err := b.Put(context.Background(), "metadata/2.snapshot.json", strings.NewReader(old), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	requireAddTargetRefused(t, b, fx, "a replayed snapshot", "records version 1")
}

// TestPlantedSnapshotsBounded: someone who can write to the bucket plants
// more snapshot names past the one timestamp.json names than a writer
// probes (repofiles.MaxProbe): the writer stops with a stored-metadata
// error, nothing written, instead of probing without end.
func TestPlantedSnapshotsBounded(t *testing.T) {
	b := storage.NewMemory()
	fx := repostoretest.Seed(t, b)
	for v := 2; v <= 2+repofiles.MaxProbe; v++ {
		if err := b.Put(context.Background(), fmt.Sprintf("metadata/%d.snapshot.json", v), strings.NewReader("{}"), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	requireAddTargetRefused(t, b, fx, "planted snapshots", "more than 4096 versions of snapshot")
}

// TestCacheControl: every published object carries the Cache-Control of
// its kind: immutable for consistent-snapshot names, 30 s for
// timestamp.json.
func TestCacheControl(t *testing.T) {
	b := storage.NewMemory()
	fx := repostoretest.Seed(t, b)
	if _, err := repostoretest.AddTarget(context.Background(), b, fx.Keys, repostoretest.Bundle(t, "a", "1.0.0"), fast); err != nil {
		t.Fatal(err)
	}
	var checked []string
	for n := range objects(t, b) {
		a, err := b.Stat(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		want := repostore.CacheImmutable
		switch {
		case n == "metadata/timestamp.json":
			want = repostore.CacheTimestamp
		case strings.HasPrefix(n, "metadata/1.") || n == "mrepo.json":
			continue // seeded, not published by a session
		}
		if a.CacheControl != want {
			t.Errorf("%s: Cache-Control %q, want %q", n, a.CacheControl, want)
		}
		checked = append(checked, n)
	}
	sort.Strings(checked)
	if len(checked) < 5 {
		t.Errorf("checked only %v", checked)
	}
}

// TestConflictGivesUp: a publisher that loses every attempt stops after
// Attempts with a CONFLICT error.
func TestConflictGivesUp(t *testing.T) {
	b := storage.NewMemory()
	repostoretest.Seed(t, b)
	o := fast
	o.Attempts = 3
	var retries []int
	o.OnRetry = func(attempt, attempts int, err error) { retries = append(retries, attempt) }
	_, err := repostore.Run(context.Background(), b, o, func(fs afero.Fs, dir string) error {
		return afero.WriteFile(fs, dir+"/metadata/1.targets.json", []byte("{}"), 0o644)
	})
	var ce *repostore.ConflictError
	if !errors.As(err, &ce) || ce.ErrorCode() != "CONFLICT" || !errors.Is(err, repostore.ErrConflict) {
		t.Fatalf("error %v, want a ConflictError", err)
	}
	if len(retries) != 2 || retries[0] != 2 || retries[1] != 3 {
		t.Errorf("retries reported: %v", retries)
	}
}

// TestDiesAtEveryStep: a publisher that dies before each upload of its
// commit (a target file, targets.json, snapshot, timestamp) leaves a
// repository that verifies, where clients see the old state or the whole
// new publication; the next publisher succeeds, and a publication whose
// snapshot was written is not lost.
func TestDiesAtEveryStep(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dieBefore func(string) bool
		committed bool
	}{
		{"target file", func(n string) bool { return strings.HasSuffix(n, ".model.bin") }, false},
		{"manifest", func(n string) bool { return strings.HasSuffix(n, ".manifest.json") }, false},
		{"targets", func(n string) bool { return strings.HasSuffix(n, ".targets.json") }, false},
		{"snapshot", func(n string) bool { return strings.HasSuffix(n, ".snapshot.json") }, false},
		{"timestamp", func(n string) bool { return n == "metadata/timestamp.json" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := storage.NewMemory()
			fx := repostoretest.Seed(t, b)
			dying := &failing{Backend: b, fail: tc.dieBefore}
			if _, err := repostoretest.AddTarget(context.Background(), dying, fx.Keys, repostoretest.Bundle(t, "a", "1.0.0"), fast); !errors.Is(err, errDied) {
				t.Fatalf("dying publisher: %v", err)
			}
			visible(t, b, fx) // verifies; the old state
			if _, err := repostoretest.AddTarget(context.Background(), b, fx.Keys, repostoretest.Bundle(t, "b", "1.0.0"), fast); err != nil {
				t.Fatal(err)
			}
			visible(t, b, fx, targets.ManifestPath("b", "1.0.0"))
			lost := clientState(t, b).Targets.Signed.Targets[targets.ManifestPath("a", "1.0.0")] == nil
			if lost == tc.committed {
				t.Errorf("publication of a (committed: %v) visible: %v", tc.committed, !lost)
			}
		})
	}
}

// TestOrphanRoleVersionSkipped: a team's publisher dies after writing the
// next version of its delegated role (before targets and snapshot); the
// orphan is left as it is and the next publication into the role takes
// the version after it.
func TestOrphanRoleVersionSkipped(t *testing.T) {
	b := storage.NewMemory()
	fx := repostoretest.Seed(t, b)
	teamKey, teamPub := testrepo.TeamKey(t, "team")
	kr := keys.MemKeyring{}
	for id, k := range fx.Keys {
		kr[id] = k
	}
	kr.Add(teamKey)
	if _, err := repostore.Run(context.Background(), b, fast, func(fs afero.Fs, dir string) error {
		r, err := repo.Open(fs, dir)
		if err == nil {
			_, err = r.Delegate(kr, delegation.Options{Name: "team", Paths: []string{"models/team-*/*/*"}, Keys: []*metadata.Key{teamPub}})
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	roleVersion := func() int64 {
		return clientState(t, b).Snapshot.Signed.Meta["team.json"].Version
	}
	v := roleVersion()
	publish := func(be storage.Backend, version string) error {
		_, err := repostore.Run(context.Background(), be, fast, func(fs afero.Fs, dir string) error {
			r, err := repo.Open(fs, dir)
			if err == nil {
				_, err = r.AddTarget(repostoretest.Bundle(t, "team-a", version), kr, repo.AddOptions{Role: "team"})
			}
			return err
		})
		return err
	}
	dying := &failing{Backend: b, fail: func(n string) bool { return strings.HasSuffix(n, ".snapshot.json") }}
	if err := publish(dying, "1.0.0"); !errors.Is(err, errDied) {
		t.Fatalf("dying publisher: %v", err)
	}
	orphan := fmt.Sprintf("metadata/%d.team.json", v+1)
	etag := objects(t, b)[orphan]
	if etag == "" {
		t.Fatalf("no orphan %s", orphan)
	}
	if err := publish(b, "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if got := roleVersion(); got != v+2 {
		t.Errorf("team version %d after the orphan %d, want %d", got, v+1, v+2)
	}
	if objects(t, b)[orphan] != etag {
		t.Error("the orphan was overwritten")
	}
	repostoretest.CheckVisible(t, b, fx.Root, nil)
}
