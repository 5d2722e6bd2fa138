package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/report"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
)

// Options configure the reports a device sends (client.TelemetryOptions).
// The zero value sends nothing unless client.json names a collector.
type Options struct {
	// URL is the collector's base URL (http(s)://HOST[:PORT][/PATH]);
	// batches are POSTed to URL+telemetry.IngestPath. Default: the
	// telemetry-url setting; empty: no telemetry at all (nothing is
	// recorded).
	URL string
	// AppVersion and OSVersion are what reports say of the app and the
	// OS (defaults: the app-version and os-version settings; the OS
	// version is otherwise read from /etc/os-release's VERSION_ID).
	AppVersion, OSVersion string
	// Timeout bounds one upload, connecting included (default
	// DefaultTimeout).
	Timeout time.Duration
	// HTTPClient sends batches (default: one trusting the system's CA
	// roots, following no redirect; never the repository's credentials or
	// client certificate).
	HTTPClient *http.Client
	// MaxReports and MaxBytes bound the outbox (defaults
	// DefaultMaxReports, DefaultMaxBytes; MaxBytes at least 64 KiB).
	MaxReports int
	MaxBytes   int64
	// Rand returns a number in [0, 1): the sampling draw (default
	// math/rand/v2's Float64). Report IDs always come from crypto/rand.
	Rand func() float64
}

// DefaultTimeout is the default Options.Timeout.
const DefaultTimeout = 5 * time.Second

// Device is what the state directory says of the device.
type Device struct {
	// ID decides cohort buckets; it is never recorded nor sent.
	ID, Class string
	// URL, AppVersion and OSVersion are the stored settings.
	URL, AppVersion, OSVersion string
	// RequireHTTPS: the device sends nothing over plain HTTP, whether
	// the collector URL comes from the settings or from Options.
	RequireHTTPS bool
}

// hostname is os.Hostname (a variable for tests).
var hostname = os.Hostname

// identifying reports whether a configured class or version would
// identify the device: it contains the device ID or the host name, or it
// is an IP address or an absolute path.
func identifying(v, deviceID string) bool {
	lv := strings.ToLower(v)
	if deviceID != "" && strings.Contains(lv, strings.ToLower(deviceID)) {
		return true
	}
	if host, err := hostname(); err == nil {
		// Its first label too; one shorter than 3 characters would match
		// ordinary versions.
		host = strings.ToLower(host)
		short, _, _ := strings.Cut(host, ".")
		for _, h := range []string{host, short} {
			if len(h) >= 3 && strings.Contains(lv, h) {
				return true
			}
		}
	}
	return strings.HasPrefix(v, "/") || net.ParseIP(v) != nil
}

// Recorder records reports for one state directory and uploads them. A
// nil Recorder (telemetry not configured) does nothing.
type Recorder struct {
	opts   Options
	dev    Device
	box    *outbox
	now    func() time.Time
	log    *slog.Logger
	ingest string // URL + IngestPath

	mu       sync.Mutex
	run      []report.Event // events of the update run in progress
	inRun    bool
	start    time.Time // when it began
	stateDir string
	uploaded chan struct{} // closed when the upload in flight ends; nil: none
	upErr    error         // its error, once it ended
}

// Signal is an app signal about the active version of a model.
type Signal struct {
	// Kind is telemetry.KindCrash or telemetry.KindLatency.
	Kind    string
	ModelID string
	// LatencyMillis is the inference latency (KindLatency), sent rounded
	// to two significant digits.
	LatencyMillis int64
}

// New returns the recorder of a state directory, or nil when no collector
// is configured; a URL that is not a valid collector URL disables
// telemetry too (logged).
func New(stateDir string, dev Device, o Options, now func() time.Time, log *slog.Logger) *Recorder {
	if o.URL == "" {
		o.URL = dev.URL
	}
	if o.URL == "" {
		return nil
	}
	if err := devstate.CheckTelemetryURL(o.URL); err != nil {
		log.Warn("telemetry disabled: collector URL", "error", err)
		return nil
	}
	if o.AppVersion == "" {
		o.AppVersion = dev.AppVersion
	}
	if o.OSVersion == "" {
		o.OSVersion = dev.OSVersion
	}
	if o.OSVersion == "" {
		o.OSVersion = detectOSVersion()
	}
	if dev.RequireHTTPS && !strings.HasPrefix(o.URL, "https://") {
		log.Warn("telemetry disabled: this device requires HTTPS and the collector URL is not https://")
		return nil
	}
	// A value a report could not carry, or one that would identify the
	// device, is left out rather than making every report invalid or
	// sending it.
	for _, v := range []*string{&o.AppVersion, &o.OSVersion, &dev.Class} {
		if *v == "" {
			continue
		}
		if err := devstate.CheckReportField(*v); err != nil || identifying(*v, dev.ID) {
			log.Warn("telemetry: a value is left out of reports: not a short version or class, or it names the device")
			*v = ""
		}
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.HTTPClient == nil {
		// Redirects are not followed: the reports go to the configured
		// collector or nowhere (a 3xx keeps them for the next upload).
		o.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.MaxReports <= 0 {
		o.MaxReports = DefaultMaxReports
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	o.MaxBytes = max(o.MaxBytes, minMaxBytes)
	if o.Rand == nil {
		o.Rand = mrand.Float64
	}
	return &Recorder{opts: o, dev: dev, box: newOutbox(stateDir, o.MaxReports, o.MaxBytes), now: now, log: log,
		ingest: trimSlash(o.URL) + telemetry.IngestPath, stateDir: stateDir}
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// Begin starts collecting the events of an update run (Observe).
func (r *Recorder) Begin() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.run, r.inRun, r.start = r.run[:0], true, r.now()
	r.mu.Unlock()
}

// maxRunEvents bounds the events one run collects (a run has a few dozen
// at most; revocations of many versions could add more).
const maxRunEvents = 1024

// Observe collects one event of the run in progress (none outside a run).
func (r *Recorder) Observe(e report.Event) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.inRun && len(r.run) < maxRunEvents {
		r.run = append(r.run, e)
	}
	r.mu.Unlock()
}

// End ends the update run whose result is res: its events become
// reports (sampled, then added to the outbox, with the active version's
// cohort for later app signals), and the upload of the outbox starts in
// the background unless one is still in flight (Flush waits for it).
// rollout is the signed rollout of a version (nil: none known).
func (r *Recorder) End(res *report.Result, rollout func(version string) *targets.Rollout) {
	if r == nil {
		return
	}
	r.mu.Lock()
	events, start := append([]report.Event(nil), r.run...), r.start
	r.run, r.inRun = r.run[:0], false
	r.mu.Unlock()
	reports := r.fromRun(res, events, r.now().Sub(start), rollout)
	r.record(reports, func(s *State, _ []telemetry.Report) bool {
		if res.Version == "" || res.ModelID == "" {
			return false
		}
		if _, ok := s.Active[res.ModelID]; !ok && len(s.Active) >= maxActive {
			return false
		}
		a := Active{Version: res.Version, CohortPercent: r.cohort(rollout(res.Version))}
		if s.Active == nil {
			s.Active = map[string]Active{}
		}
		changed := s.Active[res.ModelID] != a
		s.Active[res.ModelID] = a
		return changed
	})
	r.startUpload()
}

// ErrNotConfigured: no collector is configured, so no report is recorded.
var ErrNotConfigured = errors.New("telemetry is not configured (no collector URL: mclient config set telemetry-url URL)")

// Signal records an app signal about the active version of sig.ModelID
// for the next upload.
func (r *Recorder) Signal(sig Signal) error {
	if r == nil {
		return ErrNotConfigured
	}
	if sig.Kind != telemetry.KindCrash && sig.Kind != telemetry.KindLatency {
		return fmt.Errorf("signal kind %q: want %s or %s", sig.Kind, telemetry.KindCrash, telemetry.KindLatency)
	}
	if sig.LatencyMillis < 0 || sig.LatencyMillis > 1<<31 || (sig.Kind == telemetry.KindCrash && sig.LatencyMillis != 0) {
		return fmt.Errorf("latency %d ms: want 0 to %d, for a latency signal only", sig.LatencyMillis, int64(1)<<31)
	}
	if err := targets.CheckModelID(sig.ModelID); err != nil {
		return err
	}
	ptr, err := devstate.ReadPointer(devstate.Paths(r.stateDir, sig.ModelID), sig.ModelID)
	if err != nil {
		return err
	}
	if ptr == nil {
		return fmt.Errorf("%s has no active version", sig.ModelID)
	}
	activeVersion := ptr.Version
	rep := r.base(sig.Kind, sig.ModelID, activeVersion)
	rep.LatencyMillis = twoDigits(sig.LatencyMillis)
	if err := rep.Check(); err != nil {
		return err
	}
	return r.record([]telemetry.Report{rep}, func(s *State, reps []telemetry.Report) bool {
		if a, ok := s.Active[sig.ModelID]; ok && a.Version == activeVersion {
			reps[0].CohortPercent = a.CohortPercent
		}
		return false
	})
}

// twoDigits rounds n to two significant digits: a figure precise enough
// to see a regression, too coarse to fingerprint a device.
func twoDigits(n int64) int64 {
	if n < 100 {
		return n
	}
	p := int64(math.Pow10(len(strconv.FormatInt(n, 10)) - 2))
	return (n + p/2) / p * p
}

// record applies prepare to the outbox's state and reports (it may
// complete them, and says whether it changed the state), samples reports
// by the stored sampling configuration (a report kept at rate R carries
// R), adds those kept to the outbox and writes it. Errors are logged
// (an update ignores them: telemetry never fails it) and returned.
func (r *Recorder) record(reports []telemetry.Report, prepare func(s *State, reports []telemetry.Report) bool) error {
	damaged, err := r.box.record(func(s *State) ([]telemetry.Report, bool) {
		changed := prepare(s, reports)
		var kept []telemetry.Report
		for _, rep := range reports {
			rate := s.Sampling.RateOf(rep.Kind)
			if rate < telemetry.FullRate && r.opts.Rand()*telemetry.FullRate >= float64(rate) {
				continue
			}
			rep.Rate = rate
			if err := rep.Check(); err != nil {
				// Never stored: one bad report would make the whole
				// outbox unreadable.
				r.log.Warn("telemetry report left out", "kind", rep.Kind, "error", err)
				continue
			}
			kept = append(kept, rep)
		}
		return kept, changed
	})
	if damaged != nil {
		r.log.Warn("telemetry outbox replaced", "error", damaged)
	}
	if err != nil {
		r.log.Warn("telemetry outbox not written", "error", err)
	}
	return err
}

// base is a report of kind about modelID at version, with the device's
// coarse description and this hour; Rate is set by record.
func (r *Recorder) base(kind, modelID, version string) telemetry.Report {
	return telemetry.Report{ID: newID(), Kind: kind, Hour: hourOf(r.now()), ModelID: modelID, Version: version,
		DeviceClass: r.dev.Class, OS: runtime.GOOS, OSVersion: r.opts.OSVersion, AppVersion: r.opts.AppVersion,
		CohortPercent: -1, Rate: telemetry.FullRate}
}

func hourOf(t time.Time) string { return t.UTC().Truncate(time.Hour).Format(time.RFC3339) }

// newID is a random report ID: 128 bits from crypto/rand, linked to
// nothing.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// cohort is the device's bucket in a signed rollout, rounded down to 1%
// (0-99), or -1 without a rollout or a device ID.
func (r *Recorder) cohort(ro *targets.Rollout) int {
	if ro == nil || r.dev.ID == "" {
		return -1
	}
	return targets.Bucket(ro.Salt, r.dev.ID) * 100 / targets.Buckets
}

// Flush makes sure this process uploads once: it waits for the upload an
// update run started (bounded by the timeout) and returns its error, or
// with none it uploads now (Upload).
func (r *Recorder) Flush(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	ch := r.uploaded
	r.mu.Unlock()
	if ch != nil {
		<-ch
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.upErr
	}
	return r.Upload(ctx)
}

func (r *Recorder) startUpload() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.uploaded != nil {
		select {
		case <-r.uploaded:
		default:
			return // the previous run's upload is still in flight
		}
	}
	ch := make(chan struct{})
	r.uploaded = ch
	go func() {
		defer close(ch)
		err := r.Upload(context.Background())
		if err != nil {
			r.log.Info("telemetry upload", "error", err)
		}
		r.mu.Lock()
		r.upErr = err
		r.mu.Unlock()
	}()
}
