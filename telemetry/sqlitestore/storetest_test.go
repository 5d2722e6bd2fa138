package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
	"github.com/edgetuf/edgetuf/telemetry/store/storetest"
)

// TestSharedSuite: the SQLite store passes the suite every telemetry
// store passes (telemetry/store/storetest).
func TestSharedSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// BenchmarkIngest: the shared ingest benchmark (one Insert, one commit,
// per batch; the collector groups batches: BenchmarkInsertBatches).
func BenchmarkIngest(b *testing.B) {
	storetest.BenchmarkIngest(b, func(b *testing.B) store.Store {
		s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

// BenchmarkQueries: Counts, Series and Models at EDGETUF_BENCH_REPORTS
// (one million) stored reports, the fleet every store is measured with.
func BenchmarkQueries(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n := storetest.BenchReports(b)
	start := time.Now()
	storetest.Load(b, s, n)
	took := time.Since(start)
	var rollupRows int64
	if err := s.db.QueryRow(`SELECT count(*) FROM rollup`).Scan(&rollupRows); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d reports in %s (%.0f reports/s, batches of %d); rollup %d rows",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), telemetry.MaxReportsPerBatch, rollupRows)
	storetest.BenchmarkQueries(b, s)
}
