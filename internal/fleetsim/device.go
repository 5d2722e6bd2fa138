package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/telemetry"
)

// Outcome is what one device's update did.
type Outcome struct {
	Ran bool
	// Active is the version active after the run, Result the run's
	// outcome (client.OutcomeUpdated, OutcomeRolledBack, ...), Code its
	// error code ("" on success).
	Active, Result string
	Code           client.Code
	// Err is an unexpected error (a health check failure is expected and
	// is not one).
	Err error
}

// Round is the outcome of each device in one Run, by device index.
type Round []Outcome

// Count counts the devices for which pred holds.
func (r Round) Count(pred func(i int, o Outcome) bool) int {
	n := 0
	for i, o := range r {
		if pred(i, o) {
			n++
		}
	}
	return n
}

// Funnel counts, by telemetry kind, the reports on V2 that the round's
// updates make: every device that updated to V2 or rolled back from it
// (the only version a device of the simulation rolls back from) was
// offered, downloaded, verified and activated it, then found it healthy
// or rolled back. The collector's report on V2 must show these numbers,
// exactly for unsampled kinds, as weighted estimates for sampled ones.
func (r Round) Funnel() map[string]int {
	funnel := map[string]int{}
	for _, o := range r {
		var last string
		switch {
		case o.Result == client.OutcomeUpdated && o.Active == V2:
			last = telemetry.KindHealthy
		case o.Result == client.OutcomeRolledBack:
			last = telemetry.KindRolledBack
		default:
			continue
		}
		for _, k := range []string{telemetry.KindOffered, telemetry.KindDownloaded, telemetry.KindVerified, telemetry.KindActivated, last} {
			funnel[k]++
		}
	}
	return funnel
}

// Run runs one update of each device in [lo, hi) (a wave of the fleet
// checking in), through the worker pool, and returns every device's
// outcome. A device's first run copies its state directory from the
// bootstrap device's.
func (f *Fleet) Run(t testing.TB, lo, hi int) Round {
	t.Helper()
	round := make(Round, f.cfg.Devices)
	next := make(chan int)
	var wg sync.WaitGroup
	for range f.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				round[i] = f.update(t.Context(), i)
			}
		}()
	}
	for i := lo; i < hi; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return round
}

// StateDir is device i's state directory (it exists once the device has
// run).
func (f *Fleet) StateDir(i int) string {
	return filepath.Join(f.cfg.Dir, "devices", strconv.Itoa(i))
}

// update runs device i's update.
func (f *Fleet) update(ctx context.Context, i int) Outcome {
	dir := f.StateDir(i)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := f.template.copyTo(dir); err != nil {
			return Outcome{Ran: true, Err: err}
		}
		if _, err := client.EditConfig(dir, func(c *client.Config) error { c.DeviceID = DeviceID(i); return nil }); err != nil {
			return Outcome{Ran: true, Err: err}
		}
	}
	c, err := client.Open(dir, f.options(i))
	if err != nil {
		return Outcome{Ran: true, Err: err}
	}
	req := client.UpdateRequest{ModelID: ModelID, Force: true}
	if f.Fails(i) {
		req.HealthCheck = `test "$MCLIENT_MODEL_VERSION" != "` + V2 + `"`
	}
	res, err := c.Update(ctx, req)
	o := Outcome{Ran: true, Active: res.Version, Result: res.Outcome, Code: res.Code}
	if err != nil && client.CodeOf(err) != client.HealthcheckFailed {
		o.Err = err
	}
	// The run's reports are acknowledged (durable in the collector) or
	// the device's outcome is an error: no report is left behind.
	if err := c.FlushTelemetry(ctx); err != nil && o.Err == nil {
		o.Err = fmt.Errorf("telemetry upload: %w", err)
	}
	return o
}

// options are the client options of device i (-1: the bootstrap
// device): the fleet's clock, an HTTP client that names the device to the
// request log and shares the fleet's keep-alive connections, and with
// telemetry, the uploader's: its own HTTP client (named to the upload
// log), its own seeded sampling draw, and a timeout that a loaded
// machine never reaches (an upload cut short would leave reports out of
// the counts the test checks).
func (f *Fleet) options(i int) client.Options {
	id := strconv.Itoa(i)
	o := client.Options{
		HTTPClient: &http.Client{Transport: deviceTransport{base: f.http, id: id}},
		Now:        f.Now,
		// Never cut a transfer on a loaded machine: the server is local.
		StallTimeout: 10 * time.Minute,
		RetryBackoff: 10 * time.Millisecond,
	}
	if f.Collector != nil {
		o.Telemetry = client.TelemetryOptions{
			HTTPClient: &http.Client{Transport: deviceTransport{base: f.collectorHTTP, id: id}},
			Timeout:    10 * time.Minute,
			Rand:       deviceRand(i),
		}
	}
	return o
}

// samplingSeed seeds every device's sampling draw (deviceRand).
const samplingSeed = 13

// deviceRand is device i's sampling draw: a generator of its own, seeded
// by the fleet's seed and its index, so that which reports a device keeps
// is the same in every run (and independent of every other device's).
func deviceRand(i int) func() float64 {
	return mrand.New(mrand.NewPCG(samplingSeed, uint64(int64(i)))).Float64
}

// bootstrapDevice is the device every other one is copied from.
type bootstrapDevice struct {
	f   *Fleet
	dir string
}

// bootstrap initialises the bootstrap device and installs V1 on it. With
// telemetry, its telemetry URL is the collector's, which every copy
// inherits.
func (f *Fleet) bootstrap(t testing.TB) *bootstrapDevice {
	t.Helper()
	b := &bootstrapDevice{f: f, dir: filepath.Join(f.cfg.Dir, "bootstrap")}
	init := client.InitOptions{RepoURL: f.URL, DeviceClass: "fleetsim"}
	if f.Collector != nil {
		init.Settings.TelemetryURL = f.Collector.URL
	}
	if err := client.Init(b.dir, f.Repo.Root, init); err != nil {
		t.Fatalf("fleetsim: init the bootstrap device: %v", err)
	}
	b.refresh(t)
	return b
}

// refresh updates the bootstrap device, which has no device ID: a staged
// rollout never admits it, so it stays on V1 with the newest metadata.
func (b *bootstrapDevice) refresh(t testing.TB) {
	t.Helper()
	c, err := client.Open(b.dir, b.f.options(-1))
	if err != nil {
		t.Fatalf("fleetsim: open the bootstrap device: %v", err)
	}
	res, err := c.Update(t.Context(), client.UpdateRequest{ModelID: ModelID, Force: true})
	if err != nil || res.Version != V1 {
		t.Fatalf("fleetsim: bootstrap device: active %q, %v", res.Version, err)
	}
	if err := c.FlushTelemetry(t.Context()); err != nil {
		t.Fatalf("fleetsim: bootstrap device: telemetry upload: %v", err)
	}
}

// failHash spreads device indexes for Fails.
func failHash(i int) uint32 {
	h := fnv.New32a()
	h.Write([]byte(strconv.Itoa(i)))
	return h.Sum32()
}
