package client

import (
	"context"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/epochgate"
	"github.com/edgetuf/edgetuf/client/internal/keyring"
	devtele "github.com/edgetuf/edgetuf/client/internal/telemetry"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/anti_rollback"
	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/targets"
)

// Options tune a Client. The zero value is sensible for a device.
type Options struct {
	// HTTPClient fetches metadata and targets. The default one trusts the
	// CA bundle stored at Init (the system's roots without one), keeps no
	// connection idle (so a server cannot make net/http log its bytes),
	// and has no overall deadline (Timeout has). A client given here is
	// used as it is, except that a copy of it obeys the redirect policy
	// (AllowRedirectHosts), the state directory's CA bundle and client
	// certificate if it has them (its transport must then be an
	// *http.Transport, or nil), its credential headers (sent to the
	// repository's origin only), and HTTPS if the state directory
	// requires it.
	HTTPClient *http.Client
	// Now is the clock for metadata expiry (default time.Now).
	Now func() time.Time
	// Retries is how many more times a failed transfer is tried, metadata
	// and targets alike (default: the stored Settings', else 5; negative:
	// never). StallTimeout and Timeout also default to the stored
	// Settings' when set.
	Retries int
	// RetryBackoff is the first pause before trying again (default 1s,
	// doubling).
	RetryBackoff time.Duration
	// StallTimeout abandons, then retries, any transfer (metadata or
	// target, connecting included) that receives nothing for this long
	// (default 30s).
	StallTimeout time.Duration
	// MetadataTimeout bounds the download of one metadata file, its
	// retries included (default DefaultMetadataTimeout).
	MetadataTimeout time.Duration
	// Timeout bounds a whole Update, downloads and health check included
	// (default 6h; negative: no bound but the caller's context). What was
	// downloaded stays staged and the next run resumes it. Its expiry is
	// a NETWORK failure; the end of the caller's context is CANCELLED.
	Timeout time.Duration
	// MaxRootSize, MaxTimestampSize, MaxSnapshotSize and MaxTargetsSize
	// (which applies to each delegated role too) bound the metadata files
	// the client downloads, whatever length signed metadata declares
	// (defaults: DefaultMaxRootSize and so on).
	MaxRootSize, MaxTimestampSize, MaxSnapshotSize, MaxTargetsSize int64
	// AllowRedirectHosts lists hosts ("HOST" or "HOST:PORT") that the
	// repository may redirect requests to, besides those stored at Init
	// and the repository's own origin (see CheckRedirectHost).
	AllowRedirectHosts []string
	// FreeSpace reports the free bytes of the filesystem holding a path
	// (default: statfs). Tests use it to simulate a full disk.
	FreeSpace func(path string) (uint64, error)
	// Progress is called as payload bytes arrive.
	Progress func(file string, done, total int64)
	// Logger gets a debug record of each step of an update (nil: none).
	Logger *slog.Logger
	// LockWait is how long to wait for another mclient process (default 0).
	LockWait time.Duration
	// DeltaMaxDuration bounds the time applying one patch may take
	// (default 10 minutes); a patch that takes longer is abandoned and the
	// file downloaded whole.
	DeltaMaxDuration time.Duration
	// Rand returns a number in [0, 1): the jitter of the backoff across
	// runs (default math/rand/v2's Float64). Tests inject their own.
	Rand func() float64
	// PinnedRoot, if set: the state must read its pinned root there (else ROOT_CHAIN_BROKEN).
	PinnedRoot string
	// MaxVerifyFailures is how many times a version may fail verification
	// from the network before it is deferred for VerifyFailureDeferral
	// (DEFERRED_VERIFY_FAILURES; default DefaultMaxVerifyFailures).
	MaxVerifyFailures int
	// AntiRollback keeps the floors (nil: the one client.json names; docs/client.md, section 9).
	AntiRollback anti_rollback.Store
	// DeviceKey is the device's key pair for per-device decryption; nil
	// means the one client.json's device_key names (devicekey.Open).
	DeviceKey devicekey.Key
	// FleetKey is the fleet's shared P-256 key (delivery "fleet"); nil:
	// none. DeviceKey (above) serves deliveries "device" and "keyserver".
	FleetKey devicekey.Key
	// KeyServer is the base URL of the key service (delivery
	// "keyserver"), e.g. https://keys.example.com.
	KeyServer string
	// EncryptedAtRest keeps the payload of encrypted versions encrypted
	// on disk; the app reads it through OpenActive (docs/encryption.md).
	EncryptedAtRest bool
	// Telemetry configures the reports sent to a fleet collector (docs/telemetry.md).
	Telemetry TelemetryOptions

	// after starts the timers of StallTimeout, MetadataTimeout and
	// Timeout (default: real ones); this package's tests fire them.
	after transport.AfterFunc
}

// TelemetryOptions and Signal: see docs/telemetry.md.
type TelemetryOptions = devtele.Options

// Signal is an app signal (a crash, an inference latency) for ReportSignal.
type Signal = devtele.Signal

// ReportSignal records an app signal about the active version of a model for the next upload.
func (c *Client) ReportSignal(sig Signal) error { return c.tele.Signal(sig) }

// FlushTelemetry waits for the upload an Update started, or with none uploads now (at most once per process run).
func (c *Client) FlushTelemetry(ctx context.Context) error { return c.tele.Flush(ctx) }

// DefaultTimeout is the default Options.Timeout.
const DefaultTimeout = 6 * time.Hour

// Client updates the models of one state directory.
type Client struct {
	dir   string
	cfg   *Config
	opts  Options
	store *epochgate.Gate
	dl    *transport.Downloader
	// retryAfter is the longest Retry-After of the current run.
	retryAfter *transport.RetryAfterRecorder
	// keys are the device and fleet keys, opened when first needed.
	keys *keyring.Keys
	tele *devtele.Recorder // nil: no collector configured
}

// Open opens an initialised state directory.
func Open(stateDir string, opts Options) (*Client, error) {
	// Absolute, so the paths Status and Update report stay valid for the
	// application whatever its working directory.
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	cfg, err := devstate.ReadConfig(stateDir)
	if err != nil {
		return nil, err
	}
	policy, roots, auth, err := devstate.NetConfig(stateDir, cfg, opts.AllowRedirectHosts)
	if err != nil {
		return nil, err
	}
	if opts.HTTPClient, err = transport.Configure(opts.HTTPClient, roots, policy, auth); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rec := transport.NewRetryAfterRecorder(opts.Now, BackoffMax)
	opts.HTTPClient = transport.WithRetryAfter(opts.HTTPClient, rec)
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.MaxVerifyFailures <= 0 {
		opts.MaxVerifyFailures = DefaultMaxVerifyFailures
	}
	cfg.Settings.TransferDefaults(&opts.Retries, &opts.StallTimeout, &opts.Timeout)
	if opts.Retries == 0 {
		opts.Retries = 5
	}
	if opts.RetryBackoff == 0 {
		opts.RetryBackoff = time.Second
	}
	if opts.StallTimeout == 0 {
		opts.StallTimeout = 30 * time.Second
	}
	if opts.MetadataTimeout == 0 {
		opts.MetadataTimeout = DefaultMetadataTimeout
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.DeltaMaxDuration == 0 {
		opts.DeltaMaxDuration = defaultDeltaMaxDuration
	}
	if opts.FreeSpace == nil {
		opts.FreeSpace = devstate.FreeSpace
	}
	if opts.after == nil {
		opts.after = transport.RealAfter
	}
	if opts.KeyServer == "" {
		opts.KeyServer = cfg.KeyServer
	}
	opts.EncryptedAtRest = opts.EncryptedAtRest || cfg.EncryptedAtRest()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	store, err := epochgate.Open(opts.AntiRollback, cfg.AntiRollback, filepath.Join(stateDir, devstate.AntiRollbackDir))
	if err != nil {
		return nil, err
	}
	c := &Client{dir: stateDir, cfg: cfg, opts: opts, store: store, retryAfter: rec,
		keys: &keyring.Keys{Dir: stateDir, DeviceRef: cfg.DeviceKey, FleetRef: cfg.FleetKey, Device: opts.DeviceKey, Fleet: opts.FleetKey}}
	c.tele = devtele.New(stateDir, devtele.Device{ID: cfg.DeviceID, Class: cfg.DeviceClass, URL: cfg.Settings.TelemetryURL, AppVersion: cfg.Settings.AppVersion, OSVersion: cfg.Settings.OSVersion, RequireHTTPS: cfg.RequireHTTPS}, opts.Telemetry, opts.Now, opts.Logger)
	c.dl = &transport.Downloader{HTTP: opts.HTTPClient, Stall: opts.StallTimeout, Retries: opts.Retries, Backoff: opts.RetryBackoff, Progress: opts.Progress, After: opts.after, Log: opts.Logger}
	return c, nil
}

// AntiRollback is the anti-rollback store in use (Options.AntiRollback or the configured one).
func (c *Client) AntiRollback() anti_rollback.Store { return c.store.Store }

// Config returns the state directory's configuration.
func (c *Client) Config() Config { return *c.cfg }

func (c *Client) now() time.Time { return c.opts.Now() }

// openSession opens a TUF session against the repository. With offline set
// it uses only the metadata already trusted locally (the copy saved after
// the last complete refresh, see saveVerified), at a reference time
// no later than that metadata's expiry: integrity checks of installed
// files need authenticity, not freshness, and must work without network.
func (c *Client) openSession(ctx context.Context, offline bool) (*tufsession.Session, error) {
	o := tufsession.Options{Ctx: ctx, HTTPClient: c.opts.HTTPClient, Limits: limitsOf(c.opts),
		Retries: c.opts.Retries, Backoff: c.opts.RetryBackoff, Stall: c.opts.StallTimeout, MetaTimeout: c.opts.MetadataTimeout, After: c.opts.after, Log: c.opts.Logger}
	ref := c.now()
	metaDir := filepath.Join(c.dir, devstate.MetadataDir)
	if offline {
		metaDir = tufsession.VerifiedDir(metaDir)
		ref = tufsession.OfflineRef(metaDir, ref)
		o.Offline = true
		o.HTTPClient = &http.Client{Transport: transport.Offline{}}
	}
	o.Now, o.Chain = ref, devstate.RootChain(c.dir, c.cfg, c.opts.PinnedRoot)
	return tufsession.New(metaDir, c.cfg.RepoURL+"/metadata", c.cfg.RepoURL+"/targets",
		filepath.Join(c.dir, devstate.PinnedRootFile), o)
}

// floor is devstate.Floor for this device.
func (c *Client) floor(modelID string, ptr *devstate.Pointer) (targets.Version, bool, error) {
	return devstate.Floor(c.store, c.cfg.MinVersion, modelID, ptr)
}

// locked runs fn under the state lock.
func (c *Client) locked(fn func() error) error {
	unlock, err := devstate.Lock(c.dir, c.opts.LockWait)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}
