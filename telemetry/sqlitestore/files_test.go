package sqlitestore

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestFilesOwnerOnly: a new database is created with its missing
// directories; the database and its WAL files are readable by their
// owner only, whatever the umask allows.
func TestFilesOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask: group and others may read
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "var", "telemetry")
	path := filepath.Join(dir, "t.db")
	s := open(t, path)
	if _, err := s.Insert(context.Background(), t0, randomReports(rand.New(rand.NewPCG(1, 2)), 10)); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{
		path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600, dir: 0o700 | os.ModeDir, filepath.Dir(dir): 0o700 | os.ModeDir,
	} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
}

// TestPruneDuringIngest: pruning while batches are committed loses no
// insert (no busy error, nothing of a new batch deleted) and never
// touches the aggregates.
func TestPruneDuringIngest(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "t.db"))
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	const batches, perBatch = 40, 50
	var wg sync.WaitGroup
	done := make(chan struct{})
	var pruneErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := s.Prune(ctx, t0.Add(time.Hour)); err != nil {
				pruneErr = err
				return
			}
		}
	}()
	var fresh int64
	for i := range batches {
		received := t0 // odd batches are received after the prune limit
		if i%2 == 1 {
			received = t0.Add(2 * time.Hour)
		}
		n, err := s.Insert(ctx, received, randomReports(rng, perBatch))
		if err != nil {
			close(done)
			wg.Wait()
			t.Fatalf("insert %d during prune: %v", i, err)
		}
		if i%2 == 1 {
			fresh += int64(n)
		}
	}
	close(done)
	wg.Wait()
	if pruneErr != nil {
		t.Fatal(pruneErr)
	}
	if _, err := s.Prune(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, "reports"); n != fresh {
		t.Fatalf("%d raw reports left, want the %d received after the limit", n, fresh)
	}
	var total int64
	if err := s.db.QueryRow(`SELECT sum(reports) FROM rollup`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != batches*perBatch {
		t.Fatalf("aggregates hold %d reports, want %d", total, batches*perBatch)
	}
}
