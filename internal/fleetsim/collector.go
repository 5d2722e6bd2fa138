package fleetsim

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/autohalt"
	"github.com/edgetuf/edgetuf/telemetry/collector"
	"github.com/edgetuf/edgetuf/telemetry/dashboard"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/repoctl"
	"github.com/edgetuf/edgetuf/telemetry/sqlitestore"
)

// Collector is the fleet's telemetry collector: the real collector
// (telemetry/collector) over a real SQLite store in a temporary directory,
// with the real read side (telemetry/dashboard) mounted as mrepo
// telemetry serve mounts it, served on 127.0.0.1 behind an upload log.
type Collector struct {
	// URL is the collector's base URL.
	URL string
	c   *collector.Collector
	log *UploadLog
}

// startTelemetry starts the collector and publishes the sampling
// configuration, before the bootstrap device is set up.
func (f *Fleet) startTelemetry(t testing.TB) {
	t.Helper()
	s := f.cfg.Sampling
	if s == nil {
		s = &telemetry.Sampling{Format: telemetry.SamplingFormat, Default: telemetry.FullRate}
	}
	if _, err := repoctl.PublishSampling(f.Repo.R, f.Repo.Keys, s); err != nil {
		t.Fatalf("fleetsim: publishing the sampling configuration: %v", err)
	}
	f.collectorHTTP = &http.Transport{MaxIdleConns: f.cfg.Workers, MaxIdleConnsPerHost: f.cfg.Workers}
	f.Collector = startCollector(t, f.Now, f.collectorHTTP)
}

// startCollector starts the collector on the fleet's clock until the
// test ends; devices upload through transport.
func startCollector(t testing.TB, now func() time.Time, transport *http.Transport) *Collector {
	t.Helper()
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "telemetry.db"))
	if err != nil {
		t.Fatalf("fleetsim: telemetry store: %v", err)
	}
	c, err := collector.New(collector.Options{
		Store:       st,
		ReadHandler: dashboard.New(fleetreport.FromStore(st), st, dashboard.Options{Now: now}),
		// Every device connects from 127.0.0.1: one client to the limiter.
		RateLimit: collector.NoRateLimit,
		Now:       now,
		// Pruning runs once at start; the simulation's clock never moves.
		PruneTicks: make(chan time.Time),
	})
	if err != nil {
		st.Close()
		t.Fatalf("fleetsim: collector: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fleetsim: %v", err)
	}
	col := &Collector{URL: "http://" + ln.Addr().String(), c: c, log: &UploadLog{}}
	srv := c.Server()
	srv.Handler = col.log.wrap(c)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		transport.CloseIdleConnections()
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("fleetsim: collector shutdown: %v", err)
		}
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("fleetsim: collector: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("fleetsim: collector close: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("fleetsim: telemetry store close: %v", err)
		}
	})
	return col
}

// Stats are the collector's counters.
func (c *Collector) Stats() collector.Stats { return c.c.Stats() }

// Source reads fleet reports from the collector's /v1/report, as mrepo
// rollout report and watch --collector do.
func (c *Collector) Source() fleetreport.Source { return fleetreport.HTTPSource(c.URL, nil) }

// Uploads is the log of the batches devices uploaded.
func (c *Collector) Uploads() *UploadLog { return c.log }

// Watch runs the automatic halt once on V2, as mrepo rollout watch
// MODEL@VERSION --once --collector URL --keys does: it reads V2's report
// from the collector and, if th says so, halts V2's rollout re-signed
// with the repository's keys, on the fleet's clock.
func (f *Fleet) Watch(t testing.TB, th autohalt.Thresholds) autohalt.Check {
	t.Helper()
	if f.Collector == nil {
		t.Fatal("fleetsim: Watch needs Config.Telemetry")
	}
	if err := th.Check(); err != nil {
		t.Fatal(err)
	}
	w := &autohalt.Watcher{ModelID: ModelID, Version: V2, Thresholds: th, Source: f.Collector.Source(),
		Halter: &repoctl.Halter{Keys: f.Repo.Keys, Write: func(_ context.Context, fn func(*repo.Repository) error) error {
			return fn(f.Repo.R)
		}},
		Interval: time.Minute, Clock: fixedClock{f.Now},
		Log: func(ck autohalt.Check) {
			why := ""
			if ck.Decision != nil {
				why = ck.Decision.Reason
			}
			t.Logf("watch: %s: %s %s", ck.Outcome, why, ck.Detail)
		},
	}
	return w.Once(t.Context())
}

// fixedClock is the watcher's clock: the fleet's, which never moves (Once
// never waits).
type fixedClock struct{ now func() time.Time }

func (c fixedClock) Now() time.Time                     { return c.now() }
func (fixedClock) After(time.Duration) <-chan time.Time { return nil }

// Upload is one report a device uploaded (the collector may have accepted
// it or not: the collector's counters say).
type Upload struct {
	// Device is the sender's index (-1: the bootstrap device).
	Device  int
	Kind    string
	Version string
}

// UploadLog records the reports of every upload the collector receives,
// parsed in front of it (the device is named by the simulation's header,
// never by anything a device's client sends).
type UploadLog struct {
	mu      sync.Mutex
	uploads []Upload
	batches int
}

func (l *UploadLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == telemetry.IngestPath && req.Method == http.MethodPost {
			body, err := io.ReadAll(io.LimitReader(req.Body, telemetry.MaxBatchBytes+1))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			dev := deviceOf(req)
			if b, err := telemetry.ParseBatch(body); err == nil {
				l.mu.Lock()
				l.batches++
				for _, r := range b.Reports {
					l.uploads = append(l.uploads, Upload{Device: dev, Kind: r.Kind, Version: r.Version})
				}
				l.mu.Unlock()
			}
		}
		h.ServeHTTP(w, req)
	})
}

// Reports returns every report uploaded, and the number of batches.
func (l *UploadLog) Reports() ([]Upload, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Upload(nil), l.uploads...), l.batches
}
