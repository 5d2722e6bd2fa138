// Package storetest is the test suite that every telemetry store passes
// (store.Memory, telemetry/sqlitestore, telemetry/pgstore): insert and
// de-duplication, the exact aggregates that reports and dashboards read
// (store.Memory is the reference), queries, pruning, concurrent writers,
// cancellation and Close. A store's test calls Run with a function that
// opens a fresh, empty store.
//
// It is test support: no command links it.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// Run runs the suite, each case on a store that open returns fresh and
// empty. Run closes the stores (a case that tests Close closes its own).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	cases := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"InsertAndDedup", testInsertAndDedup},
		{"InsertBatches", testInsertBatches},
		{"CountsExact", testCountsExact},
		{"SeriesExact", testSeriesExact},
		{"MatchesMemory", testMatchesMemory},
		{"QueryVersionAndSince", testQueryVersionAndSince},
		{"SortOrder", testSortOrder},
		{"Models", testModels},
		{"PruneKeepsAggregates", testPrune},
		{"ConcurrentInserts", testConcurrentInserts},
		{"CancelledContext", testCancelledContext},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			c.run(t, s)
		})
	}
	t.Run("Close", func(t *testing.T) { testClose(t, open(t)) })
}

// received is the collector time of the suite's inserts.
var received = time.Date(2026, 12, 1, 12, 30, 0, 0, time.UTC)

// hourOf is an hour received - h hours, as a report's Hour.
func hourOf(h int) string {
	return received.Truncate(time.Hour).Add(-time.Duration(h) * time.Hour).Format(time.RFC3339)
}

// report is a valid report with the given ID number.
func report(n int, kind, version string) telemetry.Report {
	r := telemetry.Report{
		ID: fmt.Sprintf("%032x", n), Kind: kind, Hour: hourOf(0), ModelID: "model-a",
		Version: version, CohortPercent: -1, Rate: telemetry.FullRate,
	}
	if err := r.Check(); err != nil {
		panic(err)
	}
	return r
}

func insert(t *testing.T, s store.Store, at time.Time, reports []telemetry.Report, want int) {
	t.Helper()
	n, err := s.Insert(context.Background(), at, reports)
	if err != nil {
		t.Fatalf("Insert: %v", err)
	}
	if n != want {
		t.Fatalf("Insert of %d reports inserted %d, want %d", len(reports), n, want)
	}
}

func counts(t *testing.T, s store.Store, q store.Query) []store.Count {
	t.Helper()
	got, err := s.Counts(context.Background(), q)
	if err != nil {
		t.Fatalf("Counts(%+v): %v", q, err)
	}
	return got
}

func series(t *testing.T, s store.Store, q store.Query) []store.Point {
	t.Helper()
	got, err := s.Series(context.Background(), q)
	if err != nil {
		t.Fatalf("Series(%+v): %v", q, err)
	}
	for _, p := range got {
		if p.Hour.Location() != time.UTC {
			t.Fatalf("Series hour %v is not in time.UTC", p.Hour)
		}
	}
	return got
}

// totalReports is the sum of Reports over counts.
func totalReports(cs []store.Count) int64 {
	var n int64
	for _, c := range cs {
		n += c.Reports
	}
	return n
}

// sameFloat: the weighted sums of a store and of the reference differ
// only by the order of floating-point additions.
func sameFloat(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// equalCounts reports whether got and want are the same rows in the same
// order, floats within rounding.
func equalCounts(got, want []store.Count) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Version != w.Version || g.Kind != w.Kind || g.Code != w.Code || g.Method != w.Method || g.Reports != w.Reports ||
			!sameFloat(g.Weighted, w.Weighted) || !sameFloat(g.Bytes, w.Bytes) || !sameFloat(g.FullBytes, w.FullBytes) {
			return false
		}
	}
	return true
}

func equalPoints(got, want []store.Point) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Hour.Equal(w.Hour) || g.Version != w.Version || g.Kind != w.Kind || g.Reports != w.Reports || !sameFloat(g.Weighted, w.Weighted) {
			return false
		}
	}
	return true
}

func wantCounts(t *testing.T, what string, got, want []store.Count) {
	t.Helper()
	if !equalCounts(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func wantPoints(t *testing.T, what string, got, want []store.Point) {
	t.Helper()
	if !equalPoints(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func testInsertAndDedup(t *testing.T, s store.Store) {
	ctx := context.Background()
	if n, err := s.Insert(ctx, received, nil); err != nil || n != 0 {
		t.Fatalf("Insert of no reports = %d, %v; want 0, nil", n, err)
	}
	a, b, c := report(1, telemetry.KindOffered, "1.0.0"), report(2, telemetry.KindOffered, "1.0.0"), report(3, telemetry.KindOffered, "1.0.0")
	// A duplicate inside one batch (a retry merged into a batch) counts
	// once.
	insert(t, s, received, []telemetry.Report{a, b, a}, 2)
	// Across batches: a replayed batch inserts nothing, and a batch that
	// overlaps inserts only the new report.
	insert(t, s, received, []telemetry.Report{a, b}, 0)
	insert(t, s, received.Add(time.Minute), []telemetry.Report{b, c}, 1)
	// The same ID with other content is still the same report: the first
	// one wins.
	changed := a
	changed.Kind = telemetry.KindFailed
	insert(t, s, received, []telemetry.Report{changed}, 0)
	wantCounts(t, "Counts after duplicates", counts(t, s, store.Query{ModelID: "model-a"}),
		[]store.Count{{Version: "1.0.0", Kind: telemetry.KindOffered, Reports: 3, Weighted: 3}})
}

// batchInserter is the group-commit method a store may have (the
// collector's store.BatchInserter).
type batchInserter interface {
	InsertBatches(ctx context.Context, received time.Time, batches [][]telemetry.Report) (inserted []int, err error)
}

// testInsertBatches: several batches in one call count, per batch, the
// reports that are neither stored already nor in an earlier batch of the
// call, and all of them are stored.
func testInsertBatches(t *testing.T, s store.Store) {
	bi, ok := s.(batchInserter)
	if !ok {
		t.Skipf("%T has no InsertBatches (group commit)", s)
	}
	r := func(n int) telemetry.Report { return report(n, telemetry.KindVerified, "1.0.0") }
	insert(t, s, received, []telemetry.Report{r(1)}, 1)
	got, err := bi.InsertBatches(context.Background(), received, [][]telemetry.Report{
		{r(1), r(2), r(3)}, // 1 is stored
		{},
		{r(3), r(4), r(4)}, // 3 is in the first batch, 4 twice
		{r(1), r(2)},       // nothing new
		{r(5)},
	})
	if want := []int{2, 0, 1, 0, 1}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("InsertBatches = %v, %v; want %v", got, err, want)
	}
	wantCounts(t, "Counts after InsertBatches", counts(t, s, store.Query{ModelID: "model-a"}),
		[]store.Count{{Version: "1.0.0", Kind: telemetry.KindVerified, Reports: 5, Weighted: 5}})
	if got, err := bi.InsertBatches(context.Background(), received, nil); err != nil || len(got) != 0 {
		t.Fatalf("InsertBatches of no batches = %v, %v", got, err)
	}
}

// exactReports is a small set whose aggregates are written out by hand in
// testCountsExact and testSeriesExact.
func exactReports() []telemetry.Report {
	var rs []telemetry.Report
	add := func(kind, version, hour, code, method string, bytes, full int64, rate int) {
		r := report(len(rs)+100, kind, version)
		r.Hour, r.Code, r.Method, r.Bytes, r.FullBytes, r.Rate = hour, code, method, bytes, full, rate
		if err := r.Check(); err != nil {
			panic(err)
		}
		rs = append(rs, r)
	}
	// Sampled at 10% (weight 10), 25% (4) and 100% (1).
	add(telemetry.KindDownloaded, "2.0.0", hourOf(2), "", telemetry.MethodDelta, 100, 1000, 1000)
	add(telemetry.KindDownloaded, "2.0.0", hourOf(1), "", telemetry.MethodDelta, 300, 1000, 2500)
	add(telemetry.KindDownloaded, "2.0.0", hourOf(1), "", telemetry.MethodFull, 1000, 1000, 10000)
	add(telemetry.KindRolledBack, "2.0.0", hourOf(1), "HEALTH_CHECK_FAILED", "", 0, 0, 10000)
	add(telemetry.KindRolledBack, "2.0.0", hourOf(0), "HEALTH_CHECK_FAILED", "", 0, 0, 10000)
	add(telemetry.KindRolledBack, "2.0.0", hourOf(0), "CRASH_LOOP", "", 0, 0, 5000)
	add(telemetry.KindOffered, "1.5.0", hourOf(0), "", "", 0, 0, 1000)
	// Another model: never in model-a's aggregates.
	add(telemetry.KindOffered, "2.0.0", hourOf(0), "", "", 0, 0, 10000)
	rs[len(rs)-1].ModelID = "model-b"
	return rs
}

func testCountsExact(t *testing.T, s store.Store) {
	insert(t, s, received, exactReports(), 8)
	wantCounts(t, "Counts", counts(t, s, store.Query{ModelID: "model-a"}), []store.Count{
		{Version: "1.5.0", Kind: telemetry.KindOffered, Reports: 1, Weighted: 10},
		{Version: "2.0.0", Kind: telemetry.KindDownloaded, Method: telemetry.MethodDelta, Reports: 2, Weighted: 14, Bytes: 10*100 + 4*300, FullBytes: 14 * 1000},
		{Version: "2.0.0", Kind: telemetry.KindDownloaded, Method: telemetry.MethodFull, Reports: 1, Weighted: 1, Bytes: 1000, FullBytes: 1000},
		{Version: "2.0.0", Kind: telemetry.KindRolledBack, Code: "CRASH_LOOP", Reports: 1, Weighted: 2},
		{Version: "2.0.0", Kind: telemetry.KindRolledBack, Code: "HEALTH_CHECK_FAILED", Reports: 2, Weighted: 2},
	})
	wantCounts(t, "Counts of model-b", counts(t, s, store.Query{ModelID: "model-b"}), []store.Count{
		{Version: "2.0.0", Kind: telemetry.KindOffered, Reports: 1, Weighted: 1},
	})
	if got := counts(t, s, store.Query{ModelID: "model-c"}); len(got) != 0 {
		t.Fatalf("Counts of a model without reports: %+v", got)
	}
}

func hourTime(h int) time.Time {
	at, _ := time.Parse(time.RFC3339, hourOf(h))
	return at
}

func testSeriesExact(t *testing.T, s store.Store) {
	insert(t, s, received, exactReports(), 8)
	wantPoints(t, "Series", series(t, s, store.Query{ModelID: "model-a"}), []store.Point{
		{Hour: hourTime(2), Version: "2.0.0", Kind: telemetry.KindDownloaded, Reports: 1, Weighted: 10},
		{Hour: hourTime(1), Version: "2.0.0", Kind: telemetry.KindDownloaded, Reports: 2, Weighted: 5},
		{Hour: hourTime(1), Version: "2.0.0", Kind: telemetry.KindRolledBack, Reports: 1, Weighted: 1},
		{Hour: hourTime(0), Version: "1.5.0", Kind: telemetry.KindOffered, Reports: 1, Weighted: 10},
		{Hour: hourTime(0), Version: "2.0.0", Kind: telemetry.KindRolledBack, Reports: 2, Weighted: 3},
	})
}

// randomReports are n reports over a few versions, hours, kinds, codes,
// methods, sizes and sampling rates, IDs from base on.
func randomReports(rng *rand.Rand, base, n int) []telemetry.Report {
	versions := []string{"1.0.0", "1.1.0", "2.0.0-rc.1", "2.0.0"}
	codes := []string{"", "HEALTH_CHECK_FAILED", "CRASH_LOOP", "DISK_FULL"}
	methods := []string{"", telemetry.MethodFull, telemetry.MethodDelta, telemetry.MethodLocal}
	rates := []int{1, 3, 7, 100, 1000, 2500, 3333, 10000}
	rs := make([]telemetry.Report, n)
	for i := range rs {
		r := report(base+i, telemetry.Kinds[rng.IntN(len(telemetry.Kinds))], versions[rng.IntN(len(versions))])
		r.Hour = hourOf(rng.IntN(48))
		r.Code, r.Method, r.Rate = codes[rng.IntN(len(codes))], methods[rng.IntN(len(methods))], rates[rng.IntN(len(rates))]
		r.Bytes, r.FullBytes = rng.Int64N(1<<40), rng.Int64N(1<<40)
		if rng.IntN(10) == 0 {
			r.ModelID = "model-b"
		}
		rs[i] = r
	}
	return rs
}

// testMatchesMemory checks a store against the reference, store.Memory,
// on many random reports and every kind of query.
func testMatchesMemory(t *testing.T, s store.Store) {
	rng := rand.New(rand.NewPCG(13, 13))
	ref := store.NewMemory()
	for batch := 0; batch < 6; batch++ {
		rs := randomReports(rng, batch*300, 400) // overlapping: 100 duplicates a batch
		at := received.Add(time.Duration(batch) * time.Minute)
		want, _ := ref.Insert(context.Background(), at, rs)
		insert(t, s, at, rs, want)
	}
	for _, q := range []store.Query{
		{ModelID: "model-a"}, {ModelID: "model-b"}, {ModelID: "model-a", Version: "2.0.0-rc.1"},
		{ModelID: "model-a", Since: hourTime(10)}, {ModelID: "model-b", Version: "1.0.0", Since: hourTime(30)},
		{ModelID: "model-a", Since: hourTime(10).Add(time.Second)}, {ModelID: "model-a", Since: hourTime(-1)},
	} {
		wc, _ := ref.Counts(context.Background(), q)
		wantCounts(t, fmt.Sprintf("Counts(%+v) against store.Memory", q), counts(t, s, q), wc)
		wp, _ := ref.Series(context.Background(), q)
		wantPoints(t, fmt.Sprintf("Series(%+v) against store.Memory", q), series(t, s, q), wp)
	}
}

func testQueryVersionAndSince(t *testing.T, s store.Store) {
	insert(t, s, received, exactReports(), 8)
	wantCounts(t, "Counts of 1.5.0", counts(t, s, store.Query{ModelID: "model-a", Version: "1.5.0"}), []store.Count{
		{Version: "1.5.0", Kind: telemetry.KindOffered, Reports: 1, Weighted: 10},
	})
	// Since is inclusive: the reports of that hour are in.
	since := store.Query{ModelID: "model-a", Version: "2.0.0", Since: hourTime(1)}
	wantCounts(t, "Counts since an hour", counts(t, s, since), []store.Count{
		{Version: "2.0.0", Kind: telemetry.KindDownloaded, Method: telemetry.MethodDelta, Reports: 1, Weighted: 4, Bytes: 4 * 300, FullBytes: 4 * 1000},
		{Version: "2.0.0", Kind: telemetry.KindDownloaded, Method: telemetry.MethodFull, Reports: 1, Weighted: 1, Bytes: 1000, FullBytes: 1000},
		{Version: "2.0.0", Kind: telemetry.KindRolledBack, Code: "CRASH_LOOP", Reports: 1, Weighted: 2},
		{Version: "2.0.0", Kind: telemetry.KindRolledBack, Code: "HEALTH_CHECK_FAILED", Reports: 2, Weighted: 2},
	})
	// A Since between hours leaves out the hour before it.
	since.Since = hourTime(1).Add(time.Nanosecond)
	wantPoints(t, "Series since just after an hour", series(t, s, since), []store.Point{
		{Hour: hourTime(0), Version: "2.0.0", Kind: telemetry.KindRolledBack, Reports: 2, Weighted: 3},
	})
	if got := counts(t, s, store.Query{ModelID: "model-a", Version: "9.9.9"}); len(got) != 0 {
		t.Fatalf("Counts of a version without reports: %+v", got)
	}
	if got := series(t, s, store.Query{ModelID: "model-a", Since: hourTime(-1)}); len(got) != 0 {
		t.Fatalf("Series since after the last report: %+v", got)
	}
}

// testSortOrder: rows come in byte order of their strings (Go's sort of
// strings), whatever the database's collation says: "1.10.0" before
// "1.9.0", upper case before lower case, "-" before letters.
func testSortOrder(t *testing.T, s store.Store) {
	var rs []telemetry.Report
	for i, v := range []string{"1.9.0", "1.10.0", "1.10.0-beta", "10.0.0"} {
		for j, c := range []string{"Z_LAST", "A_FIRST", "B_X", "BA"} {
			r := report(i*10+j+1, telemetry.KindFailed, v)
			r.Code = c
			rs = append(rs, r)
		}
	}
	insert(t, s, received, rs, len(rs))
	got := counts(t, s, store.Query{ModelID: "model-a"})
	var order []string
	for _, c := range got {
		order = append(order, c.Version+" "+c.Code)
	}
	want := []string{}
	for _, v := range []string{"1.10.0", "1.10.0-beta", "1.9.0", "10.0.0"} {
		for _, c := range []string{"A_FIRST", "BA", "B_X", "Z_LAST"} {
			want = append(want, v+" "+c)
		}
	}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("Counts order:\n got  %q\n want %q", order, want)
	}
	gotSeries := series(t, s, store.Query{ModelID: "model-a"})
	var versions []string
	for _, p := range gotSeries {
		versions = append(versions, p.Version)
	}
	if want := []string{"1.10.0", "1.10.0-beta", "1.9.0", "10.0.0"}; !reflect.DeepEqual(versions, want) {
		t.Fatalf("Series order: %q, want %q", versions, want)
	}
}

func testModels(t *testing.T, s store.Store) {
	models, err := s.Models(context.Background())
	if err != nil || len(models) != 0 {
		t.Fatalf("Models of an empty store = %q, %v", models, err)
	}
	var rs []telemetry.Report
	for i, m := range []string{"alpha", "Zeta", "a-c", "ab", "alpha", "a.b", "A_b"} {
		r := report(i+1, telemetry.KindOffered, "1.0.0")
		r.ModelID = m
		rs = append(rs, r)
	}
	insert(t, s, received, rs, len(rs))
	models, err = s.Models(context.Background())
	if want := []string{"A_b", "Zeta", "a-c", "a.b", "ab", "alpha"}; err != nil || !reflect.DeepEqual(models, want) {
		t.Fatalf("Models = %q, %v; want %q (byte order)", models, err, want)
	}
}

func testPrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	old := exactReports()
	insert(t, s, received.Add(-48*time.Hour), old[:4], 4)
	insert(t, s, received.Add(-time.Second), old[4:], 4)
	recent := report(1, telemetry.KindOffered, "3.0.0")
	insert(t, s, received, []telemetry.Report{recent}, 1)
	before := counts(t, s, store.Query{ModelID: "model-a"})
	beforeSeries := series(t, s, store.Query{ModelID: "model-a"})

	// Reports received before the limit go; one received at it stays.
	n, err := s.Prune(ctx, received)
	if err != nil || n != 8 {
		t.Fatalf("Prune = %d, %v; want 8", n, err)
	}
	if n, err := s.Prune(ctx, received); err != nil || n != 0 {
		t.Fatalf("second Prune = %d, %v; want 0", n, err)
	}
	wantCounts(t, "Counts after Prune", counts(t, s, store.Query{ModelID: "model-a"}), before)
	wantPoints(t, "Series after Prune", series(t, s, store.Query{ModelID: "model-a"}), beforeSeries)
	if models, err := s.Models(ctx); err != nil || !reflect.DeepEqual(models, []string{"model-a", "model-b"}) {
		t.Fatalf("Models after Prune = %q, %v", models, err)
	}
	// The kept report is still known; a pruned one's ID is forgotten, so a
	// late retry of it counts again.
	insert(t, s, received, []telemetry.Report{recent, old[0]}, 1)
	if got := totalReports(counts(t, s, store.Query{ModelID: "model-a"})); got != totalReports(before)+1 {
		t.Fatalf("after re-inserting a pruned report: %d reports, want %d", got, totalReports(before)+1)
	}
}

// testConcurrentInserts: many writers, each report sent by two of them,
// lose nothing and count nothing twice.
func testConcurrentInserts(t *testing.T, s store.Store) {
	const writers, batches, size = 8, 6, 50
	rng := rand.New(rand.NewPCG(8, 8))
	all := randomReports(rng, 0, writers*batches*size)
	ref := store.NewMemory()
	ref.Insert(context.Background(), received, all)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inserted int
		errs     []error
	)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				// Writer w sends its own slice and its neighbour's.
				for _, owner := range []int{w, (w + 1) % writers} {
					start := (owner*batches + b) * size
					n, err := s.Insert(context.Background(), received, all[start:start+size])
					mu.Lock()
					inserted += n
					if err != nil {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent Insert: %d errors, first %v", len(errs), errs[0])
	}
	if inserted != len(all) {
		t.Fatalf("concurrent writers inserted %d reports, want %d", inserted, len(all))
	}
	for _, model := range []string{"model-a", "model-b"} {
		q := store.Query{ModelID: model}
		wc, _ := ref.Counts(context.Background(), q)
		wantCounts(t, "Counts after concurrent inserts", counts(t, s, q), wc)
		wp, _ := ref.Series(context.Background(), q)
		wantPoints(t, "Series after concurrent inserts", series(t, s, q), wp)
	}
}

// testCancelledContext: a cancelled insert fails with the context's error
// and stores nothing (the collector must not acknowledge it); reads fail
// too rather than answer.
func testCancelledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rs := exactReports()
	if n, err := s.Insert(ctx, received, rs); !errors.Is(err, context.Canceled) || n != 0 {
		t.Fatalf("Insert with a cancelled context = %d, %v; want 0, context.Canceled", n, err)
	}
	if _, err := s.Counts(ctx, store.Query{ModelID: "model-a"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Counts with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := s.Series(ctx, store.Query{ModelID: "model-a"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Series with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := s.Models(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Models with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := s.Prune(ctx, received); !errors.Is(err, context.Canceled) {
		t.Fatalf("Prune with a cancelled context: %v, want context.Canceled", err)
	}
	// Nothing of the cancelled insert was stored: all of it is new now.
	insert(t, s, received, rs, len(rs))
}

// testClose: Close succeeds, and an insert after it fails instead of
// claiming to have stored anything.
func testClose(t *testing.T, s store.Store) {
	insert(t, s, received, exactReports()[:1], 1)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n, err := s.Insert(context.Background(), received, exactReports()[1:2]); err == nil || n != 0 {
		t.Fatalf("Insert after Close = %d, %v; want an error", n, err)
	}
}
