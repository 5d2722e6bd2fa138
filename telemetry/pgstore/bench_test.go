package pgstore

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
	"github.com/edgetuf/edgetuf/telemetry/store/storetest"
)

// The benchmarks run PostgreSQL with its default durability (fsync,
// synchronous commit): what a production server does.
func benchServer(b *testing.B) *backendtest.PostgresServer {
	return backendtest.Postgres(b, backendtest.PostgresOptions{Durable: true})
}

// BenchmarkIngest: reports/s, one Insert (one statement, one commit) per
// batch.
func BenchmarkIngest(b *testing.B) {
	srv := benchServer(b)
	storetest.BenchmarkIngest(b, func(b *testing.B) store.Store { return open(b, srv.NewDatabase(b)) })
}

// BenchmarkIngestGrouped: the collector's group commit, eight batches of
// 100 in one InsertBatches.
func BenchmarkIngestGrouped(b *testing.B) {
	ingestVariant(b, "batch=8x100", 800, func(s *Store, rs []telemetry.Report) (int, error) {
		var batches [][]telemetry.Report
		for i := 0; i < len(rs); i += 100 {
			batches = append(batches, rs[i:i+100])
		}
		counts, err := s.InsertBatches(context.Background(), received, batches)
		total := 0
		for _, n := range counts {
			total += n
		}
		return total, err
	})
}

// BenchmarkIngestCopy measures the alternative that pgstore does not use:
// COPY a batch into a temporary table, then the same upsert from it, in
// one transaction. It costs a round trip per step and a temporary table
// per batch (catalog rows), against the single statement of Insert.
func BenchmarkIngestCopy(b *testing.B) {
	ingestVariant(b, "batch=500", 500, (*Store).insertCopy)
}

// ingestVariant measures insert from 1 and 8 writers, size reports a
// call, each on a fresh database.
func ingestVariant(b *testing.B, name string, size int, insert func(*Store, []telemetry.Report) (int, error)) {
	srv := benchServer(b)
	for _, writers := range []int{1, 8} {
		b.Run(fmt.Sprintf("%s/writers=%d", name, writers), func(b *testing.B) {
			s := open(b, srv.NewDatabase(b))
			defer s.Close()
			storetest.IngestFrom(b, writers, size, func(rs []telemetry.Report) (int, error) { return insert(s, rs) })
		})
	}
}

// insertCopy is Insert through COPY and a temporary table.
func (s *Store) insertCopy(reports []telemetry.Report) (int, error) {
	ctx := context.Background()
	cols, err := columnsOf([][]telemetry.Report{reports})
	if err != nil {
		return 0, err
	}
	inserted := 0
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE incoming (LIKE reports) ON COMMIT DROP;
			ALTER TABLE incoming DROP COLUMN received, ADD COLUMN batch integer`); err != nil {
			return err
		}
		args := cols.args()
		rows := make([][]any, len(cols.id))
		for i := range rows {
			rows[i] = make([]any, len(args))
			for j, col := range args {
				rows[i][j] = reflect.ValueOf(col).Index(i).Interface()
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"incoming"}, []string{"id", "kind", "hour", "model_id", "version",
			"from_version", "code", "method", "bytes", "full_bytes", "duration", "latency_ms", "count", "device_class",
			"os", "os_version", "app_version", "cohort_percent", "rate", "batch"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		rs, err := tx.Query(ctx, "WITH "+upsertSQL, received.Unix())
		if err != nil {
			return err
		}
		var batch int32
		var n int
		_, err = pgx.ForEachRow(rs, []any{&batch, &n}, func() error {
			inserted += n
			return nil
		})
		return err
	})
	return inserted, err
}

// BenchmarkQueries: Counts, Series and Models at EDGETUF_BENCH_REPORTS
// (one million) stored reports.
func BenchmarkQueries(b *testing.B) {
	s := open(b, benchServer(b).NewDatabase(b))
	defer s.Close()
	n := storetest.BenchReports(b)
	start := time.Now()
	storetest.Load(b, s, n)
	took := time.Since(start)
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	// What sizing needs: the disk a report takes, the rollup's rows.
	var reports, rollup, rollupRows int64
	if err := s.pool.QueryRow(ctx, `SELECT pg_total_relation_size('reports'), pg_total_relation_size('rollup'),
		(SELECT count(*) FROM rollup)`).Scan(&reports, &rollup, &rollupRows); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d reports in %s (%.0f reports/s, batches of %d); reports table %d MiB (%d bytes a report), rollup %d MiB, %d rows",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), telemetry.MaxReportsPerBatch, reports>>20, reports/int64(n), rollup>>20, rollupRows)
	storetest.BenchmarkQueries(b, s)
}
