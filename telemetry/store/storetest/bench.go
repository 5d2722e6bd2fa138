package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// FleetModel is the model that most Fleet reports are about; the query
// benchmarks read its funnel.
const FleetModel = "fleet-model"

// fleetEnd is the hour after the last of Fleet's 14 days of reports.
var fleetEnd = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// Fleet returns reports number first to first+n-1 of a simulated fleet:
// random IDs (unique: a bijection of the number), 90% about FleetModel
// and the rest about another, six versions, 14 days of hours, the kinds
// of an update's funnel with its failure codes and download methods, and
// successes sampled at 10% while failures are all kept. The same numbers
// always give the same reports.
func Fleet(first, n int) []telemetry.Report {
	rng := rand.New(rand.NewPCG(uint64(first), 0x7e1e))
	// Cumulative shares of the kinds, in per mille: a funnel where most
	// offers end healthy and a few fail.
	kinds := []struct {
		kind  string
		share int
	}{
		{telemetry.KindOffered, 200}, {telemetry.KindDownloaded, 390}, {telemetry.KindVerified, 580},
		{telemetry.KindActivated, 760}, {telemetry.KindHealthy, 930}, {telemetry.KindRolledBack, 950},
		{telemetry.KindFailed, 970}, {telemetry.KindDeferred, 985}, {telemetry.KindCrash, 990},
		{telemetry.KindLatency, 1000},
	}
	codes := []string{"HEALTH_CHECK_FAILED", "HASH_MISMATCH", "DISK_FULL", "NETWORK", "CRASH_LOOP"}
	methods := []string{telemetry.MethodFull, telemetry.MethodDelta, telemetry.MethodDelta, telemetry.MethodLocal}
	out := make([]telemetry.Report, n)
	for i := range out {
		num := uint64(first + i)
		r := telemetry.Report{
			ID:            fmt.Sprintf("%016x%016x", mix(num), mix(num^0x5bd1e995)),
			ModelID:       FleetModel,
			Version:       fmt.Sprintf("1.%d.0", rng.IntN(6)),
			Hour:          fleetEnd.Add(-time.Duration(1+rng.IntN(14*24)) * time.Hour).Format(time.RFC3339),
			CohortPercent: rng.IntN(100),
			Rate:          1000,
			DeviceClass:   "arm64-small",
			OS:            "linux",
			AppVersion:    "4.2.0",
		}
		if rng.IntN(10) == 0 {
			r.ModelID = "other-model"
		}
		share := rng.IntN(1000)
		for _, k := range kinds {
			if share < k.share {
				r.Kind = k.kind
				break
			}
		}
		switch telemetry.GroupOf(r.Kind) {
		case telemetry.GroupFailure:
			r.Rate, r.Code = telemetry.FullRate, codes[rng.IntN(len(codes))]
		case telemetry.GroupSignal:
			r.Rate, r.LatencyMillis = telemetry.FullRate, int64(10+rng.IntN(90))
		}
		if r.Kind == telemetry.KindDeferred {
			r.Code = "LOW_BATTERY"
		}
		if r.Kind == telemetry.KindDownloaded {
			r.Method, r.FullBytes = methods[rng.IntN(len(methods))], 200<<20
			r.Bytes = r.FullBytes
			if r.Method == telemetry.MethodDelta {
				r.Bytes = rng.Int64N(r.FullBytes / 4)
			}
		}
		out[i] = r
	}
	return out
}

// mix is splitmix64's finalizer: a bijection of uint64, so distinct
// numbers give distinct IDs.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// BenchReports is how many reports the query benchmarks store:
// EDGETUF_BENCH_REPORTS, or one million (the goal of issue 13: the report
// and dashboard answer in under a second at a million reports).
func BenchReports(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("EDGETUF_BENCH_REPORTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("EDGETUF_BENCH_REPORTS=%q: want a positive number", v)
		}
	}
	return n
}

// Load inserts Fleet reports 0 to n-1 into s, in batches of
// telemetry.MaxReportsPerBatch.
func Load(b *testing.B, s store.Store, n int) {
	b.Helper()
	for first := 0; first < n; first += telemetry.MaxReportsPerBatch {
		size := min(telemetry.MaxReportsPerBatch, n-first)
		if got, err := s.Insert(context.Background(), fleetEnd, Fleet(first, size)); err != nil || got != size {
			b.Fatalf("loading reports %d-%d: inserted %d, %v", first, first+size-1, got, err)
		}
	}
}

// BenchmarkQueries measures what a report or the dashboard asks of s
// (after Load): Counts and Series of FleetModel, for every version and
// for one, and the model list.
func BenchmarkQueries(b *testing.B, s store.Store) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		q    store.Query
	}{
		{"model", store.Query{ModelID: FleetModel}},
		{"version", store.Query{ModelID: FleetModel, Version: "1.3.0"}},
	} {
		b.Run("Counts/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if counts, err := s.Counts(ctx, c.q); err != nil || len(counts) == 0 {
					b.Fatalf("Counts: %d rows, %v", len(counts), err)
				}
			}
		})
		b.Run("Series/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if points, err := s.Series(ctx, c.q); err != nil || len(points) == 0 {
					b.Fatalf("Series: %d points, %v", len(points), err)
				}
			}
		})
	}
	b.Run("Models", func(b *testing.B) {
		for b.Loop() {
			if models, err := s.Models(ctx); err != nil || len(models) != 2 {
				b.Fatalf("Models: %q, %v", models, err)
			}
		}
	})
}

// BenchmarkIngest measures how many reports per second stores that open
// returns (fresh, empty) take in batches of 100 and 500 (the most a
// device sends) from 1 and 8 concurrent writers, each batch one Insert,
// as the collector makes without group commit. Metric reports/s.
func BenchmarkIngest(b *testing.B, open func(b *testing.B) store.Store) {
	for _, size := range []int{100, telemetry.MaxReportsPerBatch} {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("batch=%d/writers=%d", size, writers), func(b *testing.B) {
				s := open(b)
				defer s.Close()
				IngestFrom(b, writers, size, func(batch []telemetry.Report) (int, error) {
					return s.Insert(context.Background(), fleetEnd, batch)
				})
			})
		}
	}
}

// IngestFrom runs b.N batches of size fresh Fleet reports through insert
// from writers goroutines, and reports reports/s.
func IngestFrom(b *testing.B, writers, size int, insert func([]telemetry.Report) (int, error)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	b.ResetTimer()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if n, err := insert(Fleet(i*size, size)); err != nil || n != size {
					errs <- fmt.Errorf("batch %d: inserted %d of %d, %v", i, n, size, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "reports/s")
}
