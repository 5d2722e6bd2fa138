package client_test

// Fleet telemetry on the device (docs/telemetry.md): what a device sends
// over a whole update cycle, and that a collector that is down, slow or
// refusing never changes an update.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	devtele "github.com/edgetuf/edgetuf/client/internal/telemetry"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// collector is a stand-in for the collector (H2's is not used here): it
// parses every batch with telemetry.ParseBatch, stores accepted ones in a
// store.Memory, and keeps every byte of every request.
type collector struct {
	t   testing.TB
	URL string
	st  *store.Memory

	mu      sync.Mutex
	raw     [][]byte      // every request, headers and body, as received
	bodies  [][]byte      // every request body
	answer  int           // status to answer instead of storing (0: store, 200)
	hold    chan struct{} // while set, requests wait until it is closed
	entered chan struct{} // receives once per request that holds
}

func newCollector(t testing.TB) *collector {
	c := &collector{t: t, st: store.NewMemory(), entered: make(chan struct{}, 100)}
	srv := httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

func (c *collector) serve(w http.ResponseWriter, req *http.Request) {
	raw, _ := httputil.DumpRequest(req, false)
	body, _ := io.ReadAll(io.LimitReader(req.Body, telemetry.MaxBatchBytes+1))
	c.mu.Lock()
	c.raw = append(c.raw, append(raw, body...))
	c.bodies = append(c.bodies, body)
	hold, answer := c.hold, c.answer
	c.mu.Unlock()
	if hold != nil {
		c.entered <- struct{}{}
		<-hold
		c.mu.Lock()
		answer = c.answer // as set when it was released
		c.mu.Unlock()
	}
	if req.URL.Path != telemetry.IngestPath || req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		c.t.Errorf("collector: %s %s (%s)", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if answer != 0 && answer != http.StatusOK {
		w.WriteHeader(answer)
		return
	}
	b, err := telemetry.ParseBatch(body)
	if err != nil {
		c.t.Errorf("collector: the device sent an invalid batch: %v\n%s", err, body)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	n, err := c.st.Insert(context.WithoutCancel(req.Context()), time.Now(), b.Reports) // stored even if the device gave up waiting, as a real collector does
	if err != nil {
		c.t.Error(err)
	}
	json.NewEncoder(w).Encode(map[string]int{"accepted": n, "duplicates": len(b.Reports) - n})
}

func (c *collector) set(answer int, hold chan struct{}) {
	c.mu.Lock()
	c.answer, c.hold = answer, hold
	c.mu.Unlock()
}

// kinds counts the stored reports by kind and version ("kind@version").
func (c *collector) kinds() map[string]int {
	out := map[string]int{}
	for _, r := range c.st.Reports() {
		out[r.Kind+"@"+r.Version]++
	}
	return out
}

func (c *collector) requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bodies)
}

// teleDevice is a device with a collector configured at init.
func teleDevice(t *testing.T, r *testrepo.Repo, repoURL, collectorURL, deviceID string, opts client.Options) *device {
	t.Helper()
	return newDeviceInit(t, r, client.InitOptions{RepoURL: repoURL, DeviceID: deviceID, DeviceClass: "cam",
		Settings: client.Settings{TelemetryURL: collectorURL, AppVersion: "2.3.0", OSVersion: "12"}}, opts)
}

func (d *device) flush() error {
	d.t.Helper()
	return d.c.FlushTelemetry(context.Background())
}

var (
	ipPattern      = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)
	absPathPattern = regexp.MustCompile(`"(/|[A-Za-z]:\\)`) // a JSON string that starts like an absolute path
)

// TestTelemetryPrivacy captures every byte a device sends to the
// collector over a whole update cycle (a first install, a staged update
// that fails its health check and rolls back, a good update, app signals)
// and finds no device ID, host name, path or IP; every batch parses.
func TestTelemetryPrivacy(t *testing.T) {
	r := newRepo(t)
	srv := serveRepo(t, r)
	col := newCollector(t)
	const deviceID = "device-7f3a9c-serial-0042"
	d := teleDevice(t, r, srv.URL, col.URL, deviceID, rolloutOpts())

	publish(t, r, 2048, "1.0.0")
	d.mustUpdate("1.0.0")
	if err := d.flush(); err != nil {
		t.Fatal(err)
	}
	publish(t, r, 2048, "1.1.0")
	r.SetControls(t, model, "1.1.0", &targets.Rollout{BasisPoints: targets.Buckets, Salt: "s1"}, nil, nil)
	failing, _ := healthScript(t, "exit 1")
	if _, err := d.update(client.UpdateRequest{HealthCheck: failing}); client.CodeOf(err) != client.HealthcheckFailed {
		t.Fatalf("update with a failing health check: %v", err)
	}
	d.flush()
	publish(t, r, 2048, "1.2.0")
	d.mustUpdate("1.2.0")
	d.flush()
	if err := d.c.ReportSignal(client.Signal{Kind: telemetry.KindCrash, ModelID: model}); err != nil {
		t.Fatal(err)
	}
	if err := d.c.ReportSignal(client.Signal{Kind: telemetry.KindLatency, ModelID: model, LatencyMillis: 1234}); err != nil {
		t.Fatal(err)
	}
	// A client opened again (another process) uploads once.
	d.reopen(rolloutOpts())
	if err := d.flush(); err != nil {
		t.Fatal(err)
	}

	host, _ := os.Hostname()
	abs, _ := filepath.Abs(d.dir)
	forbidden := []string{deviceID, abs, d.dir, filepath.Dir(abs), os.TempDir()}
	if host != "" {
		forbidden = append(forbidden, host)
	}
	if wd, err := os.Getwd(); err == nil {
		forbidden = append(forbidden, wd)
	}
	if col.requests() == 0 {
		t.Fatal("the device sent nothing")
	}
	col.mu.Lock()
	for i, raw := range col.raw {
		for _, f := range forbidden {
			if bytes.Contains(raw, []byte(f)) {
				t.Errorf("request %d contains %q:\n%s", i, f, raw)
			}
		}
		body := col.bodies[i]
		if m := ipPattern.Find(body); m != nil {
			t.Errorf("request %d's body contains an IP address %s:\n%s", i, m, body)
		}
		if m := absPathPattern.Find(body); m != nil {
			t.Errorf("request %d's body contains an absolute path:\n%s", i, body)
		}
		if _, err := telemetry.ParseBatch(body); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	col.mu.Unlock()

	// What was sent is what happened.
	got := col.kinds()
	for _, want := range []string{"offered@1.0.0", "downloaded@1.0.0", "verified@1.0.0", "activated@1.0.0", "healthy@1.0.0",
		"offered@1.1.0", "activated@1.1.0", "rolled_back@1.1.0", "offered@1.2.0", "healthy@1.2.0", "crash@1.2.0", "latency@1.2.0"} {
		if got[want] != 1 {
			t.Errorf("%s: %d reports, want 1 (all: %v)", want, got[want], got)
		}
	}
	bucket := targets.Bucket("s1", deviceID) * 100 / targets.Buckets
	for _, rep := range col.st.Reports() {
		if rep.DeviceClass != "cam" || rep.AppVersion != "2.3.0" || rep.OSVersion != "12" || rep.Rate != telemetry.FullRate {
			t.Errorf("report %+v: device class, app or OS version, or rate", rep)
		}
		wantCohort := -1
		if rep.Version == "1.1.0" {
			wantCohort = bucket
		}
		if rep.CohortPercent != wantCohort {
			t.Errorf("%s@%s: cohort %d, want %d", rep.Kind, rep.Version, rep.CohortPercent, wantCohort)
		}
		switch rep.Kind {
		case telemetry.KindRolledBack:
			if rep.Code != string(client.HealthcheckFailed) || rep.FromVersion != "1.0.0" {
				t.Errorf("rolled_back: %+v", rep)
			}
		case telemetry.KindDownloaded:
			if rep.Method != telemetry.MethodFull || rep.Bytes <= 2048 || rep.FullBytes != rep.Bytes {
				t.Errorf("downloaded: %+v", rep)
			}
		case telemetry.KindLatency:
			if rep.LatencyMillis != 1200 {
				t.Errorf("latency %d, want 1234 rounded to 1200", rep.LatencyMillis)
			}
		}
	}
}

// TestTelemetryCollectorDown: a collector that refuses connections,
// answers 500 or 429, or does not answer at all never fails or delays an
// update; the reports stay in the outbox and are sent by a later run,
// with the same IDs.
func TestTelemetryCollectorDown(t *testing.T) {
	r := newRepo(t)
	srv := serveRepo(t, r)
	col := newCollector(t)

	// Nothing listens there.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	d := teleDevice(t, r, srv.URL, deadURL, "dev-1", fastOpts())
	publish(t, r, 1024, "1.0.0")
	d.mustUpdate("1.0.0")
	if err := d.flush(); err == nil {
		t.Fatal("an upload to a closed port succeeded")
	}
	kept := outboxIDs(t, d)
	if len(kept) == 0 {
		t.Fatal("nothing kept in the outbox")
	}

	// 500, then 429: kept.
	setTelemetryURL(t, d, col.URL)
	for _, status := range []int{http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		col.set(status, nil)
		d.reopen(fastOpts())
		d.mustUpdate("1.0.0")
		if err := d.flush(); err == nil {
			t.Fatalf("an upload answered %d succeeded", status)
		}
		if now := outboxIDs(t, d); !subset(kept, now) {
			t.Fatalf("after %d: reports lost from the outbox", status)
		}
	}
	if n := len(col.st.Reports()); n != 0 {
		t.Fatalf("%d reports stored", n)
	}

	// A collector that holds the request: the update is done (activated
	// and confirmed) while the upload waits; it is cut by its timeout.
	hold := make(chan struct{})
	col.set(0, hold)
	o := fastOpts()
	o.Telemetry.Timeout = time.Hour // only the release below ends it
	d.reopen(o)
	publish(t, r, 1024, "1.1.0")
	d.mustUpdate("1.1.0")
	<-col.entered // the upload is in flight, the update returned
	if st := d.status(); st.Version != "1.1.0" || st.Trial {
		t.Fatalf("status while uploading: %+v", st)
	}
	col.set(http.StatusServiceUnavailable, nil)
	close(hold)
	if err := d.flush(); err == nil {
		t.Fatal("an upload answered 503 succeeded")
	}

	// A short timeout against a collector that never answers.
	hold = make(chan struct{})
	col.set(0, hold)
	o.Telemetry.Timeout = 20 * time.Millisecond
	d.reopen(o)
	if err := d.flush(); err == nil || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("upload to a silent collector: %v", err)
	}
	<-col.entered
	col.set(0, nil)
	close(hold)

	// The collector is back: everything kept arrives, once.
	before := outboxIDs(t, d)
	d.reopen(fastOpts())
	if err := d.flush(); err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, rep := range col.st.Reports() {
		stored[rep.ID] = true
	}
	for _, id := range before {
		if !stored[id] {
			t.Errorf("report %s kept in the outbox never arrived", id)
		}
	}
	if got := col.kinds(); got["healthy@1.0.0"] != 1 || got["healthy@1.1.0"] != 1 {
		t.Errorf("stored: %v", got)
	}
	if left := outboxIDs(t, d); len(left) != 0 {
		t.Errorf("%d reports left in the outbox after a successful upload", len(left))
	}
}

// TestTelemetryRetryDedup: the answer to an upload is lost (the collector
// stored the batch, the device saw an error); the next upload sends the
// same IDs and the collector keeps one copy.
func TestTelemetryRetryDedup(t *testing.T) {
	r := newRepo(t)
	srv := serveRepo(t, r)
	col := newCollector(t)
	// A proxy that forwards to the collector and then drops the answer.
	lost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		resp, err := http.Post(col.URL+telemetry.IngestPath, "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(lost.Close)
	d := teleDevice(t, r, srv.URL, lost.URL, "dev-1", fastOpts())
	publish(t, r, 1024, "1.0.0")
	d.mustUpdate("1.0.0")
	d.flush()
	first := len(col.st.Reports())
	if first == 0 {
		t.Fatal("nothing reached the collector")
	}
	setTelemetryURL(t, d, col.URL)
	d.reopen(fastOpts())
	if err := d.flush(); err != nil {
		t.Fatal(err)
	}
	if n := len(col.st.Reports()); n != first {
		t.Fatalf("%d reports stored after the retry, want %d (the same IDs)", n, first)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	var a, b telemetry.Batch
	json.Unmarshal(col.bodies[0], &a)
	json.Unmarshal(col.bodies[len(col.bodies)-1], &b)
	if len(a.Reports) != len(b.Reports) || a.Reports[0].ID != b.Reports[0].ID {
		t.Fatal("the retry did not resend the same reports")
	}
}

// TestTelemetryNotConfigured: without a collector nothing is recorded
// and no telemetry directory is made; ReportSignal says so.
func TestTelemetryNotConfigured(t *testing.T) {
	r := newRepo(t)
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	publish(t, r, 1024, "1.0.0")
	d.mustUpdate("1.0.0")
	if err := d.flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(d.dir, devtele.Dir)); !os.IsNotExist(err) {
		t.Fatalf("telemetry directory without a collector: %v", err)
	}
	if err := d.c.ReportSignal(client.Signal{Kind: telemetry.KindCrash, ModelID: model}); err == nil {
		t.Fatal("ReportSignal without a collector succeeded")
	}
}

// publishSampling lists data as telemetry.SamplingTarget in the top-level
// targets metadata, signed with the repository's keys; served is what the
// repository then serves under that name (data, or tampered bytes).
func publishSampling(t *testing.T, r *testrepo.Repo, data, served []byte) {
	t.Helper()
	sum := sha256.Sum256(data)
	err := testrepo.ForgeTargetsDir(r.Dir, func(tg map[string]*metadata.TargetFiles) error {
		tg[telemetry.SamplingTarget] = &metadata.TargetFiles{Path: telemetry.SamplingTarget, Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
		return nil
	}, r.Signers(t))
	if err != nil {
		t.Fatal(err)
	}
	writeServed(t, r, served, sum[:])
}

// writeServed writes a file under the sampling target's name, plain and
// hash-prefixed (consistent snapshots).
func writeServed(t *testing.T, r *testrepo.Repo, served, sum []byte) {
	t.Helper()
	dir := filepath.Join(r.Dir, "targets", filepath.Dir(telemetry.SamplingTarget))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	base := filepath.Base(telemetry.SamplingTarget)
	for _, name := range []string{base, hex.EncodeToString(sum) + "." + base} {
		if err := os.WriteFile(filepath.Join(dir, name), served, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTelemetrySampling: the rates of a signed sampling configuration are
// honoured (a success kept at 10% carries rate 1000, weight 10; failures
// at 100%); a tampered or unsigned telemetry.json and an invalid signed
// one are never used (everything is kept) and never fail an update.
func TestTelemetrySampling(t *testing.T) {
	valid := []byte(`{"format":"edgetuf-telemetry-v1","default":10000,"rates":{"success":1000,"rolled_back":10000}}`)
	cases := []struct {
		name     string
		signed   []byte // nil: not listed by targets
		served   []byte
		wantRate int
	}{
		{"signed", valid, valid, 1000},
		{"tampered", valid, bytes.Replace(valid, []byte("1000,"), []byte("9000,"), 1), telemetry.FullRate},
		{"unsigned", nil, valid, telemetry.FullRate},
		{"invalid", []byte(`{"format":"edgetuf-telemetry-v1","default":0}`), []byte(`{"format":"edgetuf-telemetry-v1","default":0}`), telemetry.FullRate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t)
			srv := serveRepo(t, r)
			col := newCollector(t)
			publish(t, r, 1024, "1.0.0")
			if tc.signed != nil {
				publishSampling(t, r, tc.signed, tc.served)
			} else {
				sum := sha256.Sum256(tc.served)
				writeServed(t, r, tc.served, sum[:])
			}
			// Draws alternate 0.05 (kept at 10%) and 0.5 (not kept).
			var mu sync.Mutex
			draws := 0
			o := fastOpts()
			o.Telemetry.Rand = func() float64 {
				mu.Lock()
				defer mu.Unlock()
				draws++
				return []float64{0.05, 0.5}[draws%2]
			}
			d := teleDevice(t, r, srv.URL, col.URL, "dev-1", o)
			d.mustUpdate("1.0.0")
			if err := d.flush(); err != nil {
				t.Fatal(err)
			}
			if tc.signed == nil && len(srv.requests("/targets/edgetuf/")) != 0 {
				t.Error("an unsigned telemetry.json was fetched")
			}
			reps := col.st.Reports()
			success := 0
			for _, rep := range reps {
				if telemetry.GroupOf(rep.Kind) != telemetry.GroupSuccess {
					continue
				}
				success++
				if rep.Rate != tc.wantRate || rep.Weight() != float64(telemetry.FullRate)/float64(tc.wantRate) {
					t.Errorf("%s: rate %d weight %v, want rate %d", rep.Kind, rep.Rate, rep.Weight(), tc.wantRate)
				}
			}
			// offered, downloaded, verified, activated, healthy: 5 success
			// reports, half of them kept at 10%.
			want := 5
			if tc.wantRate != telemetry.FullRate {
				want = 2
			}
			if success != want {
				t.Errorf("%d success reports sent, want %d", success, want)
			}
		})
	}
}

// outboxIDs lists the IDs of the reports waiting in d's outbox.
func outboxIDs(t *testing.T, d *device) []string {
	t.Helper()
	s, err := devtele.ReadOutbox(d.dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range s.Reports {
		ids = append(ids, r.ID)
	}
	return ids
}

func subset(a, b []string) bool {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	for _, x := range a {
		if !in[x] {
			return false
		}
	}
	return true
}

func setTelemetryURL(t *testing.T, d *device, u string) {
	t.Helper()
	if _, err := client.EditConfig(d.dir, func(c *client.Config) error { return client.SetConfigKey(c, "telemetry-url", u) }); err != nil {
		t.Fatal(err)
	}
}

// TestTelemetryEventKinds: every event name the telemetry mapping knows
// is one the client emits, and every transition of the funnel has one.
func TestTelemetryEventKinds(t *testing.T) {
	emitted := map[string]bool{client.EventDownloaded: true, client.EventVerified: true, client.EventActivated: true,
		client.EventRevokedRollback: true, client.EventConfirmed: true, client.EventRolledBack: true, client.EventFailed: true,
		client.EventDeferred: true, client.EventRevoked: true}
	kinds := map[string]bool{}
	for ev, kind := range devtele.EventKinds {
		if !emitted[ev] {
			t.Errorf("event %q is not a client event", ev)
		}
		kinds[kind] = true
	}
	for _, k := range []string{telemetry.KindDownloaded, telemetry.KindVerified, telemetry.KindActivated, telemetry.KindHealthy,
		telemetry.KindRolledBack, telemetry.KindFailed, telemetry.KindDeferred, telemetry.KindRevoked} {
		if !kinds[k] {
			t.Errorf("no event maps to %s", k)
		}
	}
}
