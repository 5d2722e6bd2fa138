package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// randomReports makes n valid reports over a few models, versions, hours,
// kinds, codes and methods, at sampling rates whose weights are exact
// binary fractions (so that sums do not depend on their order).
func randomReports(rng *rand.Rand, n int) []telemetry.Report {
	models := []string{"detector", "ranker", "asr"}
	versions := []string{"1.0.0", "1.1.0", "2.0.0"}
	kinds := []string{telemetry.KindOffered, telemetry.KindDownloaded, telemetry.KindActivated, telemetry.KindRolledBack, telemetry.KindFailed}
	codes := []string{"", "", "E_HEALTH", "E_HASH"}
	methods := []string{"", telemetry.MethodFull, telemetry.MethodDelta}
	rates := []int{10000, 5000, 2500, 625}
	out := make([]telemetry.Report, n)
	for i := range out {
		out[i] = telemetry.Report{
			ID:            fmt.Sprintf("%032x", rng.Uint64()),
			Kind:          kinds[rng.IntN(len(kinds))],
			Hour:          t0.Add(time.Duration(rng.IntN(5)) * time.Hour).Format(time.RFC3339),
			ModelID:       models[rng.IntN(len(models))],
			Version:       versions[rng.IntN(len(versions))],
			Code:          codes[rng.IntN(len(codes))],
			Method:        methods[rng.IntN(len(methods))],
			Bytes:         int64(rng.IntN(1 << 20)),
			FullBytes:     1 << 20,
			CohortPercent: rng.IntN(100),
			Rate:          rates[rng.IntN(len(rates))],
		}
		if err := out[i].Check(); err != nil {
			panic(err)
		}
	}
	return out
}

// sameAsMemory checks that s answers every query as store.Memory holding
// the same reports does.
func sameAsMemory(t *testing.T, s store.Store, mem *store.Memory) {
	t.Helper()
	ctx := context.Background()
	wantModels, _ := mem.Models(ctx)
	gotModels, err := s.Models(ctx)
	if err != nil || !reflect.DeepEqual(gotModels, wantModels) {
		t.Fatalf("Models = %v, %v; want %v", gotModels, err, wantModels)
	}
	for _, q := range []store.Query{
		{ModelID: "detector"}, {ModelID: "ranker", Version: "1.1.0"},
		{ModelID: "asr", Since: t0.Add(2 * time.Hour)}, {ModelID: "asr", Since: t0.Add(90 * time.Minute)},
		{ModelID: "absent"},
	} {
		want, _ := mem.Counts(ctx, q)
		got, err := s.Counts(ctx, q)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Counts(%+v) =\n%+v, %v\nwant\n%+v", q, got, err, want)
		}
		wantP, _ := mem.Series(ctx, q)
		gotP, err := s.Series(ctx, q)
		if err != nil || !reflect.DeepEqual(gotP, wantP) {
			t.Fatalf("Series(%+v) =\n%+v, %v\nwant\n%+v", q, gotP, err, wantP)
		}
	}
}

// TestMatchesMemory: batches with duplicates (within a batch, across
// batches, replayed) give SQLite the answers of store.Memory.
func TestMatchesMemory(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "t.db"))
	mem := store.NewMemory()
	rng := rand.New(rand.NewPCG(1, 2))
	all := randomReports(rng, 600)
	batches := [][]telemetry.Report{all[:200], append(all[200:300:300], all[250:260]...), all[100:400], all[400:]}
	for _, b := range batches {
		want, _ := mem.Insert(ctx, t0, b)
		got, err := s.Insert(ctx, t0, b)
		if err != nil || got != want {
			t.Fatalf("Insert = %d, %v; want %d", got, err, want)
		}
	}
	sameAsMemory(t, s, mem)
}

// TestGroupCommitCountsPerBatch: InsertBatches says how many reports of
// each batch were new, a report repeated in a later batch of the same
// call counting as a duplicate.
func TestGroupCommitCountsPerBatch(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "t.db"))
	r := randomReports(rand.New(rand.NewPCG(3, 4)), 10)
	if _, err := s.Insert(ctx, t0, r[:2]); err != nil {
		t.Fatal(err)
	}
	got, err := s.InsertBatches(ctx, t0, [][]telemetry.Report{r[:5], r[3:8], r[8:], r[8:]})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{3, 3, 2, 0}; !reflect.DeepEqual(got, want) {
		t.Fatalf("inserted = %v, want %v", got, want)
	}
	if n := countRows(t, s, "reports"); n != 10 {
		t.Fatalf("%d rows, want 10", n)
	}
}

func countRows(t *testing.T, s *Store, table string) int64 {
	t.Helper()
	var n int64
	if err := s.db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRollupEqualsRecount: the rollup that Counts reads equals a recount
// of the raw reports table.
func TestRollupEqualsRecount(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "t.db"))
	rng := rand.New(rand.NewPCG(5, 6))
	for range 5 {
		if _, err := s.Insert(ctx, t0, randomReports(rng, 300)); err != nil {
			t.Fatal(err)
		}
	}
	recount := func(q string) []string {
		rows, err := s.db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var m, v, k, c, meth string
			var h, n int64
			var w, b, fb float64
			if err := rows.Scan(&m, &v, &h, &k, &c, &meth, &n, &w, &b, &fb); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(m, v, h, k, c, meth, n, w, b, fb))
		}
		return out
	}
	got := recount(`SELECT model_id, version, hour, kind, code, method, reports, weighted, bytes, full_bytes
		FROM rollup ORDER BY 1, 2, 3, 4, 5, 6`)
	want := recount(`SELECT model_id, version, hour, kind, code, method, count(*), sum(10000.0 / rate),
		sum(10000.0 / rate * bytes), sum(10000.0 / rate * full_bytes) FROM reports
		GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6`)
	if len(got) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("rollup (%d rows) differs from a recount (%d rows)", len(got), len(want))
	}
}

// TestPruneKeepsAggregates: Prune deletes the reports received before
// the limit, in chunks, and nothing else; the aggregates still count
// them; a pruned report's ID is forgotten (as in store.Memory).
func TestPruneKeepsAggregates(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "t.db"))
	mem := store.NewMemory()
	rng := rand.New(rand.NewPCG(7, 8))
	old, recent := randomReports(rng, pruneChunk+123), randomReports(rng, 50)
	for _, st := range []store.Store{s, mem} {
		st.Insert(ctx, t0, old)
		st.Insert(ctx, t0.Add(time.Hour), recent)
	}
	n, err := s.Prune(ctx, t0.Add(time.Hour))
	if err != nil || n != int64(len(old)) {
		t.Fatalf("Prune = %d, %v; want %d", n, err, len(old))
	}
	mem.Prune(ctx, t0.Add(time.Hour))
	if got := countRows(t, s, "reports"); got != int64(len(recent)) {
		t.Fatalf("%d reports left, want %d", got, len(recent))
	}
	sameAsMemory(t, s, mem)
	if n, err := s.Prune(ctx, t0.Add(time.Hour)); n != 0 || err != nil {
		t.Fatalf("second Prune = %d, %v", n, err)
	}
}

// TestReopenKeepsData: what was inserted is there after Close and Open.
func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	mem := store.NewMemory()
	reports := randomReports(rand.New(rand.NewPCG(9, 10)), 200)
	s.Insert(ctx, t0, reports)
	mem.Insert(ctx, t0, reports)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, path)
	sameAsMemory(t, s2, mem)
	if n, err := s2.Insert(ctx, t0, reports); n != 0 || err != nil {
		t.Fatalf("re-inserting after reopen = %d, %v; want 0 (duplicates)", n, err)
	}
}

// TestDurabilitySettings: the connections run in WAL mode with
// synchronous=FULL and a busy timeout, which is what makes an
// acknowledged batch survive a crash.
func TestDurabilitySettings(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "t.db"))
	for pragma, want := range map[string]int64{"synchronous": 2, "busy_timeout": BusyTimeout.Milliseconds()} {
		var got int64
		if err := s.db.QueryRow(`PRAGMA ` + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %d, %v; want %d", pragma, got, err, want)
		}
	}
	var mode string
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

// TestNewerSchemaRefused: a database written by a newer layout is not
// misread.
func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	s := open(t, path)
	if _, err := s.db.Exec(`UPDATE schema_version SET version = ?`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(context.Background(), path); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open = %v, want ErrNewerSchema", err)
	}
}

// TestCeilUnix: a time between whole seconds rounds up.
func TestCeilUnix(t *testing.T) {
	if got := ceilUnix(time.Unix(10, 0)); got != 10 {
		t.Fatal(got)
	}
	if got := ceilUnix(time.Unix(10, 1)); got != 11 {
		t.Fatal(got)
	}
}

// TestEmptyMatchesMemory: an empty store answers as an empty
// store.Memory does (nil models, empty counts and series).
func TestEmptyMatchesMemory(t *testing.T) {
	sameAsMemory(t, open(t, filepath.Join(t.TempDir(), "t.db")), store.NewMemory())
}

// BenchmarkInsertBatches: the store alone, as the collector's committer
// drives it: 40 batches of 20 reports per transaction (synchronous=FULL,
// one fsync per transaction). One op is one transaction.
func BenchmarkInsertBatches(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(11, 12))
	groups := make([][][]telemetry.Report, b.N)
	for i := range groups {
		for range 40 {
			groups[i] = append(groups[i], randomReports(rng, 20))
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.InsertBatches(context.Background(), t0, groups[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*40*20)/b.Elapsed().Seconds(), "reports/s")
}
