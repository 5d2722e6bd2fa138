package keyserver

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/contentkeys"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// KeyStore gives a version's content key (contentkeys.Store).
type KeyStore interface {
	Get(modelID, version string) (*modelcrypt.ContentKey, error)
}

// Defaults of Config.
const (
	DefaultKeyLifetime   = 24 * time.Hour
	DefaultChallengeTTL  = 60 * time.Second
	DefaultMaxChallenges = 10000
	// DefaultMaxDeviceBuckets bounds the per-device rate limit table.
	DefaultMaxDeviceBuckets = 200000
)

// Default rates: a device asks for a key once per new version, so ten a
// minute is plenty; the global rate caps the work (an ECDH, an age
// encryption and an fsync per release) a flood can cause.
var (
	DefaultDeviceRate = Rate{Events: 10, Per: time.Minute, Burst: 5}
	DefaultGlobalRate = Rate{Events: 200, Per: time.Second, Burst: 400}
)

// Config configures a Server. RepoDir, Keys and DevicesFile are needed.
type Config struct {
	// RepoDir is the repository (metadata/): which versions are delivered
	// by the key service, and their signed recipients.
	RepoDir string
	// FS holds RepoDir (nil: the OS).
	FS afero.Fs
	// Keys holds the content keys.
	Keys KeyStore
	// DevicesFile lists enrolled devices, RevokedFile ("" none) revoked
	// ones (modelcrypt.ParseDevices' format); Reload reads both again.
	DevicesFile, RevokedFile string
	// KeyLifetime is how long a released key is valid for (Grant.NotAfter).
	KeyLifetime time.Duration
	// ChallengeTTL is how long a challenge may be answered.
	ChallengeTTL time.Duration
	// MaxChallenges bounds the outstanding challenges; MaxDeviceBuckets
	// the devices tracked by the per-device rate limit.
	MaxChallenges, MaxDeviceBuckets int
	// DeviceRate limits each device, GlobalRate all requests together.
	DeviceRate, GlobalRate Rate
	// Audit receives the audit log (nil: none).
	Audit AuditSink
	// Now is the clock (nil: time.Now); Rand the randomness (nil:
	// crypto/rand).
	Now  func() time.Time
	Rand io.Reader
}

// Server is the key service: an http.Handler.
type Server struct {
	cfg        Config
	versions   *versionIndex
	challenges *challengeTable
	limits     *limiter
	audit      *auditLog

	mu    sync.RWMutex
	enrol *enrolment

	keyMu sync.Mutex
	keys  map[string]*modelcrypt.ContentKey // by manifest target path; never logged
}

// New checks cfg, fills in defaults and reads the devices files.
func New(cfg Config) (*Server, error) {
	if cfg.RepoDir == "" || cfg.Keys == nil || cfg.DevicesFile == "" {
		return nil, errors.New("keyserver: a repository, a content key store and a devices file are needed")
	}
	if cfg.FS == nil {
		cfg.FS = afero.NewOsFs()
	}
	setDefault(&cfg.KeyLifetime, DefaultKeyLifetime)
	setDefault(&cfg.ChallengeTTL, DefaultChallengeTTL)
	setDefault(&cfg.MaxChallenges, DefaultMaxChallenges)
	setDefault(&cfg.MaxDeviceBuckets, DefaultMaxDeviceBuckets)
	setDefault(&cfg.DeviceRate, DefaultDeviceRate)
	setDefault(&cfg.GlobalRate, DefaultGlobalRate)
	if cfg.KeyLifetime < 0 || cfg.ChallengeTTL < 0 || cfg.MaxChallenges < 0 || cfg.MaxDeviceBuckets < 0 {
		return nil, errors.New("keyserver: lifetimes and limits must be positive")
	}
	for _, r := range []Rate{cfg.DeviceRate, cfg.GlobalRate} {
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("keyserver: %w", err)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	s := &Server{
		cfg:        cfg,
		versions:   &versionIndex{fs: cfg.FS, dir: cfg.RepoDir},
		challenges: newChallengeTable(cfg.MaxChallenges),
		limits:     newLimiter(cfg.GlobalRate, cfg.DeviceRate, cfg.MaxDeviceBuckets),
		audit:      &auditLog{sink: cfg.Audit},
		keys:       map[string]*modelcrypt.ContentKey{},
	}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Reload reads the devices and revoked files again (mrepo keyserver does
// on SIGHUP). On an error the sets in use stay, and the error says why.
func (s *Server) Reload() error {
	e, err := loadEnrolment(s.cfg.DevicesFile, s.cfg.RevokedFile)
	if err != nil {
		return fmt.Errorf("keyserver: %w", err)
	}
	s.mu.Lock()
	s.enrol = e
	s.mu.Unlock()
	return nil
}

// Enrolled is the number of devices enrolled and not revoked.
func (s *Server) Enrolled() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for r := range s.enrol.enrolled {
		if !s.enrol.revoked[r] {
			n++
		}
	}
	return n
}

// HTTPServer is an http.Server for s with the service's limits on
// headers and timeouts; the caller sets its TLS config and serves.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
}

// answer is one request's outcome: the status, the refusal or the body
// to send, and what the audit log records.
type answer struct {
	status     int
	code       string // the refusal code or the audit outcome
	msg        string
	retryAfter time.Duration
	body       []byte // a success's body
	mediaType  string
	rec        AuditRecord
}

func refuse(status int, code, format string, args ...any) *answer {
	return &answer{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := s.cfg.Now()
	var a *answer
	endpoint := req.URL.Path // audited as it is only if it is one of the two
	if endpoint != "/v1/challenge" && endpoint != "/v1/key" {
		endpoint = ""
	}
	// The global bucket comes first: every request costs an audit line.
	if ok, wait := s.limits.allowGlobal(now); !ok {
		a = refuse(http.StatusTooManyRequests, modelcrypt.RefusalRateLimited, "the service is busy")
		a.retryAfter = wait
	}
	switch {
	case a != nil:
	case endpoint == "":
		a = refuse(http.StatusNotFound, "NOT_FOUND", "no such endpoint (POST /v1/challenge, POST /v1/key)")
	case req.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		a = refuse(http.StatusMethodNotAllowed, modelcrypt.RefusalMalformed, "only POST")
	case endpoint == "/v1/challenge":
		a = s.challenge(w, req, now)
	default:
		a = s.key(w, req, now)
	}
	a.rec.Remote, a.rec.Endpoint, a.rec.Outcome, a.rec.Status = req.RemoteAddr, endpoint, a.code, a.status
	if err := s.audit.write(a.rec, now, a.code == OutcomeReleased); err != nil && a.status == http.StatusOK {
		// No key and no challenge leaves without its record.
		a = refuse(http.StatusInternalServerError, OutcomeInternal, "the audit log cannot be written")
	}
	if a.retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int64((a.retryAfter+time.Second-1)/time.Second)))
	}
	if a.body != nil {
		w.Header().Set("Content-Type", a.mediaType)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(a.status)
		w.Write(a.body)
		return
	}
	body, _ := json.Marshal(modelcrypt.Refusal{Code: a.code, Message: a.msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(a.status)
	w.Write(append(body, '\n'))
}

// readRequest reads a bounded JSON body strictly into v.
func readRequest(w http.ResponseWriter, req *http.Request, v any) *answer {
	data, err := io.ReadAll(http.MaxBytesReader(w, req.Body, modelcrypt.MaxKeyServiceMessage))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return refuse(http.StatusRequestEntityTooLarge, modelcrypt.RefusalTooLarge, "the body is over %d bytes", modelcrypt.MaxKeyServiceMessage)
	}
	if err != nil {
		return refuse(http.StatusBadRequest, modelcrypt.RefusalMalformed, "the body cannot be read")
	}
	if err := jsonlimit.UnmarshalStrict(data, v, modelcrypt.MaxKeyServiceMessage); err != nil {
		return refuse(http.StatusBadRequest, modelcrypt.RefusalMalformed, "the body is not the expected JSON: %v", err)
	}
	return nil
}

// subject is the model version and device a request is about, checked.
type subject struct {
	modelID, version, device string
	rec                      AuditRecord
	pub                      *ecdh.PublicKey
	signed                   string // the version's signed content key recipient
}

// checkSubject checks the syntax of a request's model, version and
// device, the device's enrolment, its rate (if limit: challenge requests
// count, a key request needs a challenge), and that the version is
// delivered by the service.
func (s *Server) checkSubject(modelID, version, device string, now time.Time, limit bool) (*subject, *answer) {
	sub := &subject{modelID: modelID, version: version, device: device}
	if targets.CheckModelID(modelID) != nil {
		return sub, refuse(http.StatusBadRequest, modelcrypt.RefusalMalformed, "invalid model_id")
	}
	sub.rec.ModelID = modelID
	if _, err := targets.ParseVersion(version); err != nil || len(version) > 256 {
		return sub, refuse(http.StatusBadRequest, modelcrypt.RefusalMalformed, "invalid version")
	}
	sub.rec.Version = version
	r, err := modelcrypt.ParseRecipient(device)
	if err != nil {
		return sub, refuse(http.StatusBadRequest, modelcrypt.RefusalMalformed, "invalid device recipient")
	}
	if sub.pub, err = modelcrypt.RecipientKey(r); err != nil {
		return sub, refuse(http.StatusBadRequest, modelcrypt.RefusalMalformed, "invalid device recipient")
	}
	sub.rec.Device = DeviceFingerprint(device)
	s.mu.RLock()
	dev, refusal := s.enrol.check(device)
	s.mu.RUnlock()
	sub.rec.Label = dev.Label
	if refusal != "" {
		return sub, refuse(http.StatusForbidden, refusal, "device %s is not allowed keys", sub.rec.Device)
	}
	// Only enrolled devices get a bucket: the table is bounded by the
	// enrolment, not by what strangers send.
	if limit {
		if ok, wait := s.limits.allowKey(device, now); !ok {
			a := refuse(http.StatusTooManyRequests, modelcrypt.RefusalRateLimited, "too many requests from this device")
			a.retryAfter = wait
			return sub, a
		}
	}
	signed, ok, err := s.versions.recipient(modelID, version, now)
	if err != nil {
		return sub, refuse(http.StatusServiceUnavailable, RefusalMetadataInvalid, "the repository metadata does not verify")
	}
	if !ok {
		return sub, refuse(http.StatusNotFound, modelcrypt.RefusalVersionUnknown, "%s %s is not a version delivered by this key service", modelID, version)
	}
	sub.signed = signed
	return sub, nil
}

func (s *Server) challenge(w http.ResponseWriter, req *http.Request, now time.Time) *answer {
	var in modelcrypt.ChallengeRequest
	if a := readRequest(w, req, &in); a != nil {
		return a
	}
	sub, a := s.checkSubject(in.ModelID, in.Version, in.Device, now, true)
	if a != nil {
		a.rec = sub.rec
		return a
	}
	c, err := s.newChallenge(in, now)
	if err != nil {
		a := refuse(http.StatusInternalServerError, OutcomeInternal, "no randomness")
		a.rec = sub.rec
		return a
	}
	if ok, wait := s.challenges.add(c, now); !ok {
		a := refuse(http.StatusTooManyRequests, modelcrypt.RefusalRateLimited, "too many outstanding challenges")
		a.retryAfter, a.rec = wait, sub.rec
		return a
	}
	body, _ := json.Marshal(modelcrypt.Challenge{
		ChallengeID: c.id,
		ServerKey:   base64.StdEncoding.EncodeToString(c.priv.PublicKey().Bytes()),
		Nonce:       base64.StdEncoding.EncodeToString(c.nonce),
		Expires:     c.expires.UTC().Format(time.RFC3339),
	})
	return &answer{status: http.StatusOK, code: OutcomeChallenge, body: body, mediaType: "application/json", rec: sub.rec}
}

// newChallenge makes a challenge for in: a random ID and nonce and a
// fresh ephemeral key.
func (s *Server) newChallenge(in modelcrypt.ChallengeRequest, now time.Time) (*challenge, error) {
	c := &challenge{modelID: in.ModelID, version: in.Version, device: in.Device, expires: now.Add(s.cfg.ChallengeTTL), nonce: make([]byte, modelcrypt.NonceSize)}
	id := make([]byte, modelcrypt.ChallengeIDSize)
	if _, err := io.ReadFull(s.cfg.Rand, id); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(s.cfg.Rand, c.nonce); err != nil {
		return nil, err
	}
	priv, err := ecdh.P256().GenerateKey(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	c.id, c.priv = base64.StdEncoding.EncodeToString(id), priv
	return c, nil
}

func (s *Server) key(w http.ResponseWriter, req *http.Request, now time.Time) *answer {
	var in modelcrypt.KeyRequest
	if a := readRequest(w, req, &in); a != nil {
		return a
	}
	sub, a := s.checkSubject(in.ModelID, in.Version, in.Device, now, false)
	if a == nil {
		a = s.release(sub, in, now)
	}
	a.rec = sub.rec
	if a.status == http.StatusOK {
		a.rec.NotAfter = now.Add(s.cfg.KeyLifetime).UTC().Format(time.RFC3339)
	}
	return a
}

// release consumes the challenge, checks the proof and seals the key.
func (s *Server) release(sub *subject, in modelcrypt.KeyRequest, now time.Time) *answer {
	c := s.challenges.take(in.ChallengeID, now)
	if c == nil {
		return refuse(http.StatusForbidden, modelcrypt.RefusalChallengeUnknown, "no such challenge (unknown, or used already)")
	}
	if !now.Before(c.expires) {
		return refuse(http.StatusForbidden, modelcrypt.RefusalChallengeExpired, "the challenge expired")
	}
	proof, err := base64.StdEncoding.Strict().DecodeString(in.Proof)
	if err != nil || c.modelID != in.ModelID || c.version != in.Version || c.device != in.Device {
		return refuse(http.StatusForbidden, modelcrypt.RefusalProofInvalid, "the proof does not verify")
	}
	shared, err := c.priv.ECDH(sub.pub)
	if err != nil || !hmac.Equal(proof, modelcrypt.Proof(shared, c.nonce, c.id, c.modelID, c.version, c.device)) {
		return refuse(http.StatusForbidden, modelcrypt.RefusalProofInvalid, "the proof does not verify")
	}
	ck, a := s.contentKey(in.ModelID, in.Version, sub.signed)
	if a != nil {
		return a
	}
	r, _ := modelcrypt.ParseRecipient(in.Device) // checked by checkSubject
	env, err := modelcrypt.SealEnvelope(r, modelcrypt.Grant{
		ModelID: in.ModelID, Version: in.Version, ContentKey: ck.String(),
		NotAfter: now.Add(s.cfg.KeyLifetime).UTC().Format(time.RFC3339),
	})
	if err != nil {
		return refuse(http.StatusInternalServerError, OutcomeInternal, "the envelope cannot be sealed")
	}
	return &answer{status: http.StatusOK, code: OutcomeReleased, body: env, mediaType: "application/octet-stream"}
}

// contentKey returns the version's content key, loaded once, after
// checking it is the key whose recipient the signed metadata names
// (signed: checkSubject found it in the verified metadata of this
// request).
func (s *Server) contentKey(modelID, version, signed string) (*modelcrypt.ContentKey, *answer) {
	p := targets.ManifestPath(modelID, version)
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if ck := s.keys[p]; ck != nil {
		return ck, nil
	}
	ck, err := s.loadKey(modelID, version, signed)
	switch {
	case errors.Is(err, contentkeys.ErrNotFound):
		return nil, refuse(http.StatusNotFound, modelcrypt.RefusalVersionUnknown, "no content key is stored for %s %s", modelID, version)
	case err != nil:
		// The error stays on this side (it names paths, never a key).
		return nil, refuse(http.StatusInternalServerError, OutcomeInternal, "the content key of %s %s cannot be used", modelID, version)
	}
	s.keys[p] = ck
	return ck, nil
}

// loadKey reads a content key from the store and checks it is the one
// whose recipient is signed.
func (s *Server) loadKey(modelID, version, signed string) (*modelcrypt.ContentKey, error) {
	ck, err := s.cfg.Keys.Get(modelID, version)
	if err != nil {
		return nil, err
	}
	if ck.Recipient() != signed {
		return nil, fmt.Errorf("the stored content key of %s %s is not the signed one (%s)", modelID, version, signed)
	}
	return ck, nil
}

// Preload loads the content key of every version the repository now
// delivers by key service, so that a wrong passphrase or a damaged key
// shows when the service starts. It returns how many were loaded and the
// versions that have no stored key (their requests are refused with
// VERSION_UNKNOWN).
func (s *Server) Preload() (loaded int, missing []string, err error) {
	idx, err := s.versions.current(s.cfg.Now())
	if err != nil {
		return 0, nil, err
	}
	byPath := idx.byPath // never changed once built
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	for _, p := range slices.Sorted(maps.Keys(byPath)) {
		pp, _ := targets.ParseTargetPath(p) // indexed paths parse
		ck, err := s.loadKey(pp.ModelID, pp.Version, byPath[p])
		if errors.Is(err, contentkeys.ErrNotFound) {
			missing = append(missing, pp.ModelID+"@"+pp.Version)
			continue
		}
		if err != nil {
			return loaded, missing, err
		}
		s.keys[p] = ck
		loaded++
	}
	return loaded, missing, nil
}
