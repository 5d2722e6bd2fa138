// Package repostoretest is test support for publishing to a
// storage.Backend through repostore: it seeds a backend with a test
// repository and runs concurrent publishers against it, checking that
// nothing is lost and the repository stays valid. The same checks run
// against storage.NewMemory, a file:// directory and a real S3 server
// (versitygw), whichever backend the caller gives. Test-only: the keys
// are throwaway (internal/testrepo).
package repostoretest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/repostore"
	"github.com/edgetuf/edgetuf/storage"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Fixture is a test repository in a backend.
type Fixture struct {
	Keys keys.MemKeyring // every key of the repository (test-only)
	Root []byte          // 1.root.json, the root to pin
}

// Seed uploads a fresh test repository (testrepo.New: one key per role,
// nothing published) into b, as a publisher of the whole tree would.
func Seed(t testing.TB, b storage.Backend) *Fixture {
	t.Helper()
	return SeedFrom(t, b, testrepo.New(t))
}

// SeedFrom uploads the test repository r into b (a repository with root
// keys at hand: testrepo.NewWithRootKeys).
func SeedFrom(t testing.TB, b storage.Backend, r *testrepo.Repo) *Fixture {
	t.Helper()
	err := filepath.Walk(r.Dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasPrefix(fi.Name(), ".") {
			return err
		}
		rel, err := filepath.Rel(r.Dir, p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return b.Put(context.Background(), filepath.ToSlash(rel), f, storage.PutOptions{})
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Fixture{Keys: r.Keys, Root: r.Root}
}

// Bundle writes a bundle of modelID at version (a manifest and one small
// payload) under t's temporary directory and returns its directory.
func Bundle(t testing.TB, modelID, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := json.Marshal(targets.Manifest{ModelID: modelID, Version: version})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, targets.ManifestName), m, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.bin"), []byte(modelID+" "+version), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// AddTarget publishes the bundle in bundleDir to b as `mrepo add-target
// --repo URL` does: in repostore.Run sessions, with the timestamp rolled
// forward by kr's timestamp key.
func AddTarget(ctx context.Context, b storage.Backend, kr keys.Keyring, bundleDir string, o repostore.RunOptions) (*repostore.CommitResult, error) {
	o.Timestamp = func(fs afero.Fs, dir string) error {
		r, err := repo.Open(fs, dir)
		if err != nil {
			return err
		}
		_, err = r.Timestamp(kr)
		return err
	}
	return repostore.Run(ctx, b, o, func(fs afero.Fs, dir string) error {
		r, err := repo.Open(fs, dir)
		if err != nil {
			return err
		}
		_, err = r.AddTarget(bundleDir, kr, repo.AddOptions{})
		return err
	})
}

// ConcurrentPublishers seeds b with a test repository and runs publishers
// goroutines that each publish versions versions of a model of their own
// with AddTarget (options o, Attempts raised to publishers*versions
// unless set), at the same time. It then checks that every version is
// visible to clients (timestamp.json leads to all of them), that
// `mrepo verify` finds no problem, and that timestamp.json never moved
// backwards: each replacement has a higher version and names a snapshot
// at least as new. It returns the attempts each publication took.
func ConcurrentPublishers(t testing.TB, b storage.Backend, publishers, versions int, o repostore.RunOptions) []int {
	t.Helper()
	fx := Seed(t, b)
	mb := &MonotonicTimestamp{Backend: b}
	if o.Attempts == 0 {
		o.Attempts = publishers * versions
	}
	bundles := make([][]string, publishers)
	for p := range bundles {
		for v := 0; v < versions; v++ {
			bundles[p] = append(bundles[p], Bundle(t, fmt.Sprintf("pub%d", p), fmt.Sprintf("1.0.%d", v)))
		}
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		attempts []int
		errs     []error
	)
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for v := 0; v < versions; v++ {
				res, err := AddTarget(context.Background(), mb, fx.Keys, bundles[p][v], o)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("publisher %d, version %d: %w", p, v, err))
				} else {
					attempts = append(attempts, res.Attempts)
				}
				mu.Unlock()
			}
		}(p)
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if err := mb.Err(); err != nil {
		t.Error(err)
	}
	want := map[string]bool{}
	for p := 0; p < publishers; p++ {
		for v := 0; v < versions; v++ {
			want[targets.ManifestPath(fmt.Sprintf("pub%d", p), fmt.Sprintf("1.0.%d", v))] = true
		}
	}
	CheckVisible(t, b, fx.Root, want)
	sort.Ints(attempts)
	return attempts
}

// CheckVisible checks, in a read-only session on b, that `mrepo verify`
// (audit.Verify from root) finds no problem and that the top-level
// targets clients reach through timestamp.json lists every path in want.
func CheckVisible(t testing.TB, b storage.Backend, root []byte, want map[string]bool) {
	t.Helper()
	s, err := repostore.Begin(context.Background(), b, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep := audit.Verify(s.Fs(), s.Dir(), root, audit.Options{}); len(rep.Problems) > 0 {
		t.Errorf("verify found problems: %+v", rep.Problems)
	}
	st, err := repofiles.ReadState(s.Fs(), s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for p := range want {
		if st.Targets.Signed.Targets[p] == nil {
			t.Errorf("%s is not visible to clients (timestamp %d, snapshot %d)", p, st.Timestamp.Signed.Version, st.Snapshot.Signed.Version)
		}
	}
}

// MonotonicTimestamp is a Backend that checks every write of
// timestamp.json that succeeds: its version is higher than the one it
// replaces and the snapshot it names at least as new. Err reports the
// first violation.
type MonotonicTimestamp struct {
	storage.Backend
	mu            sync.Mutex
	version, snap int64
	err           error
}

// Put implements storage.Backend.
func (m *MonotonicTimestamp) Put(ctx context.Context, name string, r io.Reader, o storage.PutOptions) error {
	if name != repofiles.MetadataDir+"/timestamp.json" {
		return m.Backend.Put(ctx, name, r, o)
	}
	data, err := io.ReadAll(io.LimitReader(r, repofiles.ClientLimit(metadata.TIMESTAMP)+1))
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.Backend.Put(ctx, name, strings.NewReader(string(data)), o); err != nil {
		return err
	}
	ts, err := metadata.Timestamp().FromBytes(data)
	if err != nil {
		m.fail(fmt.Errorf("timestamp.json written unparsable: %v", err))
		return nil
	}
	snap := ts.Signed.Meta["snapshot.json"].Version
	if ts.Signed.Version <= m.version || snap < m.snap {
		m.fail(fmt.Errorf("timestamp.json moved from version %d (snapshot %d) to %d (snapshot %d)", m.version, m.snap, ts.Signed.Version, snap))
	}
	m.version, m.snap = ts.Signed.Version, snap
	return nil
}

func (m *MonotonicTimestamp) fail(err error) {
	if m.err == nil {
		m.err = err
	}
}

// Err is the first violation seen, or nil.
func (m *MonotonicTimestamp) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}
