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
	storetest.Run(t, func(t *testing.T) store.Store { return fresh(t) })
}

// fresh opens a new, empty store in a temporary directory of tb; the
// caller closes it.
func fresh(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(context.Background(), filepath.Join(tb.TempDir(), "t.db"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// BenchmarkIngest: the shared ingest benchmark (one Insert, one commit,
// per batch; the collector groups batches: BenchmarkInsertBatches).
func BenchmarkIngest(b *testing.B) {
	storetest.BenchmarkIngest(b, func(b *testing.B) store.Store { return fresh(b) })
}

// BenchmarkQueries: Counts, Series and Models at EDGETUF_BENCH_REPORTS
// (one million) stored reports, the fleet every store is measured with.
func BenchmarkQueries(b *testing.B) {
	s := fresh(b)
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
