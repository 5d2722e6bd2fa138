// Package fleetsim simulates a fleet of devices updating one model from a
// real repository: the harness of the fleet telemetry test of issue 13
// (docs/telemetry.md, "Measured"). It is test support only: it publishes
// with testrepo's throwaway keys.
//
// New publishes version V1 as a full release and V2 as a canary (a staged
// rollout at Config.CanaryBasisPoints, through the repository's rollout
// control, repo.ChangeControls), serves the repository with the real
// static server (package server, what mrepo serve runs) on 127.0.0.1
// behind a request log, and gives every device its own state directory
// and device ID. Each device is a real client (package client) running a
// real Update; only its health check is injected: the devices Fails picks
// (a deterministic share chosen by a hash of the device index) fail V2's
// health check and roll back to V1.
//
// Scale: one bootstrap device is initialised and updated (it installs V1
// and trusts the metadata that lists V2 at the canary) and every other
// device's state directory is a copy of it with its own device ID, so a
// device's first run fetches only the timestamp (after probing for a
// newer root), with telemetry the sampling configuration, and, if it is
// a canary, V2's manifest and payload. Run
// drives devices through a bounded pool of workers that share one HTTP
// transport (keep-alive connections); payloads are a few bytes.
//
// Telemetry (Config.Telemetry: the closed loop of issue 13): New starts a
// real collector (telemetry/collector over telemetry/sqlitestore, with
// the dashboard's read side, Fleet.Collector) on the fleet's clock,
// publishes a signed sampling configuration (telemetry/repoctl,
// Config.Sampling) before the bootstrap device is set up, and gives the
// bootstrap device the collector's URL, which every copy inherits (each
// copy starts with its own empty outbox: notCopied). Every device samples
// with its own seeded draw (deviceRand), so the reports a run sends are
// the same in every run, and waits for its upload after each update
// (client.FlushTelemetry). Between two Runs, Fleet.Watch runs the
// automatic halt once (telemetry/autohalt, what mrepo rollout watch
// --once runs) against the collector's /v1/report, halting V2 with the
// repository's keys.
//
// Fleet.Now is the one clock of the simulation (repository, devices,
// collector, watch), so report hours line up.
package fleetsim

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/server"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/spf13/afero"
)

// The simulated model and its two versions.
const (
	ModelID = "fleetsim-model"
	V1      = "1.0.0"
	V2      = "1.1.0"
)

// Config describes a simulation.
type Config struct {
	// Devices is the size of the fleet.
	Devices int
	// CanaryBasisPoints is V2's staged rollout (default 500: 5%).
	CanaryBasisPoints int
	// Salt is V2's cohort salt (default "fleetsim"), fixed so that the
	// canary is the same in every run.
	Salt string
	// FailPercent is the share of devices, in percent, whose health
	// check fails V2 (default 30); Fails says which.
	FailPercent int
	// Workers is how many devices update at once (default 4 per CPU).
	Workers int
	// Dir holds the fleet's state directories (default: on a tmpfs when
	// there is one with room, see stateRoot; else a temporary directory
	// of the test).
	Dir string
	// Telemetry starts a collector (Fleet.Collector) that every device
	// reports to, and publishes Sampling.
	Telemetry bool
	// Sampling is the signed sampling configuration published with
	// Telemetry (default: telemetry.Default, every report kept).
	Sampling *telemetry.Sampling
}

// Fleet is a running simulation.
type Fleet struct {
	cfg  Config
	Repo *testrepo.Repo
	// URL is the repository's address on 127.0.0.1.
	URL string
	// Now is the clock of the repository and of every device: the time
	// New started, truncated to the second.
	Now func() time.Time
	log *RequestLog
	// template is the bootstrap device's state directory, which every
	// device's is copied from.
	template *tree
	http     *http.Transport
	// Collector is the telemetry collector (nil without Config.Telemetry).
	Collector *Collector
	// collectorHTTP carries the devices' uploads (keep-alive connections).
	collectorHTTP *http.Transport
}

// New publishes V1 and V2 (at the canary), serves them, and prepares the
// bootstrap device every device of the fleet is copied from.
func New(t testing.TB, cfg Config) *Fleet {
	t.Helper()
	if cfg.CanaryBasisPoints == 0 {
		cfg.CanaryBasisPoints = 500
	}
	if cfg.Salt == "" {
		cfg.Salt = "fleetsim"
	}
	if cfg.FailPercent == 0 {
		cfg.FailPercent = 30
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4 * runtime.GOMAXPROCS(0)
	}
	if cfg.Dir == "" {
		cfg.Dir = stateRoot(t, cfg.Devices)
	}
	start := time.Now().UTC().Truncate(time.Second)
	f := &Fleet{cfg: cfg, Repo: testrepo.New(t), Now: func() time.Time { return start }, log: &RequestLog{}}
	f.Repo.SetNow(f.Now)
	f.http = &http.Transport{MaxIdleConns: cfg.Workers, MaxIdleConnsPerHost: cfg.Workers}
	f.URL = f.serve(t)
	if cfg.Telemetry {
		f.startTelemetry(t)
	}

	f.Repo.Publish(t, ModelID, V1, payloadOf(V1), targets.Compat{})
	boot := f.bootstrap(t)
	f.Repo.Publish(t, ModelID, V2, payloadOf(V2), targets.Compat{})
	f.change(t, rollout.Set(rollout.SetOptions{BasisPoints: cfg.CanaryBasisPoints, Salt: cfg.Salt}))
	boot.refresh(t)
	f.template = readTree(t, boot.dir)
	f.log.reset()
	return f
}

// serve serves the repository as mrepo serve does (server.Listen,
// server.Handler, server.Serve), on 127.0.0.1, with the request log in
// front of the handler, until the test ends. It returns the URL.
func (f *Fleet) serve(t testing.TB) string {
	t.Helper()
	ln, scheme, err := server.Listen("127.0.0.1:0", "", "")
	if err != nil {
		t.Fatalf("fleetsim: %v", err)
	}
	srv := &http.Server{Handler: f.log.wrap(f.Repo.Handler()), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, srv, ln, nil, nil) }()
	t.Cleanup(func() {
		// The devices' connections first: the server's graceful
		// shutdown would wait for connections that never sent a request.
		f.http.CloseIdleConnections()
		stop()
		if err := <-done; err != nil {
			t.Errorf("fleetsim: repository server: %v", err)
		}
	})
	return scheme + "://" + ln.Addr().String()
}

// payloadOf is a version's tiny payload, its own for each version.
func payloadOf(version string) map[string][]byte {
	return map[string][]byte{"model.bin": fmt.Appendf(nil, "fleetsim model %s\n", version)}
}

// change applies a rollout control change to V2, signed with the
// repository's keys.
func (f *Fleet) change(t testing.TB, c rollout.Change) *repo.ControlResult {
	t.Helper()
	res, err := f.Repo.R.ChangeControls(ModelID, V2, f.Repo.Keys, c)
	if err != nil {
		t.Fatalf("fleetsim: rollout control of %s %s: %v", ModelID, V2, err)
	}
	return res
}

// Rollout is V2's signed rollout as the repository stores it now.
func (f *Fleet) Rollout(t testing.TB) *targets.Rollout {
	t.Helper()
	st, err := repofiles.ReadState(afero.NewOsFs(), f.Repo.Dir)
	if err != nil {
		t.Fatalf("fleetsim: %v", err)
	}
	p := targets.ManifestPath(ModelID, V2)
	tf := st.Targets.Signed.Targets[p]
	if tf == nil {
		t.Fatalf("fleetsim: %s is not a target of top-level targets", p)
	}
	c, err := targets.ParseCustom(p, tf.Custom)
	if err != nil {
		t.Fatalf("fleetsim: %v", err)
	}
	return c.Rollout
}

// DeviceID is device i's ID.
func DeviceID(i int) string { return fmt.Sprintf("fleetsim-device-%06d", i) }

// Canary reports whether device i is in V2's canary: its cohort bucket
// (targets.Bucket of V2's salt and its ID) is below the rollout.
func (f *Fleet) Canary(i int) bool {
	return targets.Bucket(f.cfg.Salt, DeviceID(i)) < f.cfg.CanaryBasisPoints
}

// Fails reports whether device i's health check fails V2: a fixed
// FailPercent share of devices, chosen by a hash of the index, which is
// independent of the cohort bucket (that hashes the ID with the salt).
func (f *Fleet) Fails(i int) bool { return failHash(i)%100 < uint32(f.cfg.FailPercent) }

// Requests is the repository server's log of the fleet's requests.
func (f *Fleet) Requests() *RequestLog { return f.log }
