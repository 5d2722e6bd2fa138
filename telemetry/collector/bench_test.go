package collector

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/sqlitestore"
)

// BenchmarkIngestHTTP: devices upload batches over loopback HTTP, N at a
// time, to a collector on SQLite (WAL, synchronous=FULL, group commit).
// One op is one batch of batchReports reports; reports/s is the figure
// (docs/telemetry.md, "Measured"; the goal is at least 5,000 on the
// 2-core reference machine). bench/telemetry-ingest.sh runs it.
func BenchmarkIngestHTTP(b *testing.B) {
	const batchReports = 20
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			c, err := New(Options{Store: st, Now: fixedNow, RateLimit: NoRateLimit, PruneTicks: make(chan time.Time)})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			srv := httptest.NewUnstartedServer(c)
			srv.Config = c.Server()
			srv.Start()
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
			rng := rand.New(rand.NewPCG(1, uint64(clients)))
			bodies := make([][]byte, b.N)
			for i := range bodies {
				rs := reports(i, batchReports)
				for j := range rs { // random IDs, as devices make them, and a mix of kinds and versions
					rs[j].ID = fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
					rs[j].Kind = telemetry.Kinds[(i+j)%5]
					rs[j].Version = fmt.Sprintf("1.%d.0", j%3)
				}
				bodies[i] = body(b, rs)
			}
			next := make(chan int, b.N)
			for i := range b.N {
				next <- i
			}
			close(next)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					for i := range next {
						resp, err := client.Post(srv.URL+telemetry.IngestPath, "application/json", bytes.NewReader(bodies[i]))
						if err != nil {
							b.Error(err)
							return
						}
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							b.Errorf("status %d", resp.StatusCode)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N*batchReports)/b.Elapsed().Seconds(), "reports/s")
			if s := c.Stats(); s.Accepted != int64(b.N*batchReports) {
				b.Fatalf("accepted %d of %d", s.Accepted, b.N*batchReports)
			}
		})
	}
}
