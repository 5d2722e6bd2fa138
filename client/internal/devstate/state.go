package devstate

import (
	"encoding/json"
	"errors"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/anti_rollback/tpmstore"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/internal/writerlock"
	"github.com/edgetuf/edgetuf/targets"
)

// The state directory:
//
//	client.json                   configuration written by Init
//	trusted-root.json             the pinned root, never modified (not with --root-readonly)
//	root-chain/                   with --root-readonly: the roots verified after the pinned one
//	metadata/                     TUF metadata trusted so far (root.json, timestamp.json, ...)
//	metadata-verified/            a copy of it after the last complete refresh, for offline checks
//	staging/<model>/<version>/    partial downloads (<file>.part) and patches (deltas/<base>/<file>.part), resumable
//	models/<model>/<version>/     installed versions: payload files and manifest.json
//	models/<model>/active.json    the pointer naming the active version
//	models/<model>/state.json     bad versions and the last update result
//	anti-rollback/                the floors (package anti_rollback)
//	events.jsonl                  the event log (rotated to events.jsonl.1)
//	lock                          held by the process that changes the state
//
// Nothing below the state directory is reached through a symbolic link:
// every file and directory is opened, created, renamed and removed
// through package safefs (statefs.go says what happens to a link or a
// special file found in each place).
const (
	ConfigFile      = "client.json"
	PinnedRootFile  = "trusted-root.json"
	RootChainDir    = "root-chain"
	MetadataDir     = "metadata"
	StagingDir      = "staging"
	ModelsDir       = "models"
	ActiveFile      = "active.json"
	ModelStateFile  = "state.json"
	AntiRollbackDir = "anti-rollback"
	EventsFile      = "events.jsonl"
	LockFile        = "lock"
	PartSuffix      = ".part"
	InstallPrefix   = ".install-"
	ConfigFormat    = "mclient-state-v1"
	// VerifiedSuffix names the copy of metadata/ made after the last
	// complete refresh (metadata-verified/), which offline sessions read.
	VerifiedSuffix = "-verified"
)

// Config is the device's configuration, fixed at Init.
type Config struct {
	Format  string `json:"format"`
	RepoURL string `json:"repo_url"`
	// DeviceID identifies the device to rollout rules; it never appears in
	// the event log.
	DeviceID string `json:"device_id,omitempty"`
	// DeviceClass is the coarse description that events carry.
	DeviceClass string `json:"device_class"`
	// MinVersion is the floor shipped with the application: no model
	// version below it is ever accepted, for any model.
	MinVersion string `json:"min_version,omitempty"`
	// CAFile names the CA bundle in the state directory that HTTPS
	// servers must chain to (empty: the system's roots); RequireHTTPS
	// refuses plain HTTP; AllowRedirectHosts are the hosts redirects may
	// lead to besides the repository's origin. See netconfig.go.
	CAFile             string   `json:"ca_file,omitempty"`
	RequireHTTPS       bool     `json:"require_https,omitempty"`
	AllowRedirectHosts []string `json:"allow_redirect_hosts,omitempty"`
	// The credential files (absolute paths, read by every run; see
	// settings.go): a bearer token, HTTP headers, a client certificate and
	// its key.
	AuthTokenFile  string `json:"auth_token_file,omitempty"`
	AuthHeaderFile string `json:"auth_header_file,omitempty"`
	ClientCert     string `json:"client_cert,omitempty"`
	ClientKey      string `json:"client_key,omitempty"`
	// DeviceKey names the device key pair (a package devicekey reference:
	// file:PATH, pkcs11:URI or tpm:PATH), set by mclient device-key create.
	DeviceKey string `json:"device_key,omitempty"`
	// FleetKey names the fleet's shared key (delivery "fleet"): a
	// devicekey reference, file:/ABSOLUTE/PATH or pkcs11:URI (encryption.go).
	FleetKey string `json:"fleet_key,omitempty"`
	// KeyServer is the key service's base URL (delivery "keyserver").
	KeyServer string `json:"key_server,omitempty"`
	// AtRest is the form encrypted versions are installed in:
	// AtRestPlaintext (also when empty) or AtRestEncrypted.
	AtRest string `json:"at_rest,omitempty"`
	// Settings are what mclient update uses by default.
	Settings Settings `json:"settings,omitzero"`
	// PinnedRoot is the absolute path of the root pinned in the device
	// image, read by every session (init --root-readonly; see package
	// rootchain). Empty: the copy in trusted-root.json is the pinned root.
	PinnedRoot string `json:"pinned_root,omitempty"`
	// AntiRollback names the anti-rollback store: "file" or empty (the
	// default), or "tpm:PATH" (package anti_rollback/tpmstore).
	AntiRollback string `json:"anti_rollback,omitempty"`
}

// InitOptions configure Init.
type InitOptions struct {
	RepoURL     string
	DeviceID    string
	DeviceClass string // default: GOOS/GOARCH
	MinVersion  string
	// CABundle (PEM certificates), if set, is stored in the state
	// directory and is then the only set of CAs HTTPS servers may chain
	// to, for every connection of the device.
	CABundle []byte
	// RequireHTTPS refuses plain HTTP: an http:// repository URL, and
	// any redirect to http://.
	RequireHTTPS bool
	// AllowRedirectHosts lists hosts ("HOST" or "HOST:PORT") the
	// repository may redirect requests to (a CDN); redirects elsewhere
	// than the repository's own scheme, host and port are refused.
	AllowRedirectHosts []string
	// Settings, and the credential files (paths), stored as given.
	Settings                                             Settings
	AuthTokenFile, AuthHeaderFile, ClientCert, ClientKey string
	// PinnedRoot, if set, is the path of the pinned root in the device
	// image (read-only storage): it is read on every session instead of a
	// copy in the state directory, and rootJSON must be its content.
	PinnedRoot string
	// AntiRollback is Config.AntiRollback.
	AntiRollback string
	// FleetKey, KeyServer and AtRest are the encryption keys of
	// client.json, checked and stored as mclient config set does.
	FleetKey, KeyServer, AtRest string
}

// Init creates a state directory trusting rootJSON, the root pinned in the
// device image. It makes no network request. An existing state directory
// is refused. checkRoot checks the root before anything is written.
func Init(stateDir string, rootJSON []byte, opts InitOptions, checkRoot func([]byte) error) error {
	if err := CheckRepoURL(opts.RepoURL); err != nil {
		return err
	}
	if opts.MinVersion != "" {
		if _, err := targets.ParseVersion(opts.MinVersion); err != nil {
			return codes.Errorf(codes.StateInvalid, err, "min version")
		}
	}
	if err := checkRoot(rootJSON); err != nil {
		return err
	}
	pinned, err := pinnedRoot(opts.PinnedRoot, rootJSON)
	if err != nil {
		return err
	}
	if err := checkNetOptions(opts); err != nil {
		return err
	}
	if opts.DeviceClass == "" {
		opts.DeviceClass = runtime.GOOS + "/" + runtime.GOARCH
	}
	cfg := Config{Format: ConfigFormat, RepoURL: strings.TrimSuffix(opts.RepoURL, "/"), DeviceID: opts.DeviceID, DeviceClass: opts.DeviceClass,
		MinVersion: opts.MinVersion, Settings: opts.Settings, PinnedRoot: pinned, AntiRollback: opts.AntiRollback, RequireHTTPS: opts.RequireHTTPS}
	for k, v := range map[string]string{"auth-token-file": opts.AuthTokenFile, "auth-header-file": opts.AuthHeaderFile, "client-cert": opts.ClientCert, "client-key": opts.ClientKey,
		"fleet-key": opts.FleetKey, "key-server": opts.KeyServer, "at-rest": opts.AtRest} {
		if v != "" {
			if err := SetKey(&cfg, k, v); err != nil {
				return err
			}
		}
	}
	if err := CheckConfig(&cfg); err != nil {
		return err
	}
	if _, err := transport.LoadAuth(cfg.RepoURL, cfg.AuthFiles()); err != nil {
		return err
	}
	if _, err := os.Lstat(filepath.Join(stateDir, ConfigFile)); err == nil {
		return codes.Errorf(codes.StateInvalid, nil, "%s is already a state directory", stateDir)
	}
	// The state directory itself may be reached through links (the
	// device's choice of path); nothing below it is.
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return codes.Errorf(codes.StateInvalid, err, "creating the state directory")
	}
	sfs := safefs.New(stateDir)
	for _, d := range []string{MetadataDir, StagingDir, ModelsDir, AntiRollbackDir} {
		if err := sfs.MkdirAll(filepath.Join(stateDir, d), 0o700); err != nil {
			return codes.Errorf(codes.StateInvalid, err, "creating the state directory")
		}
	}
	for _, name := range rootFiles(pinned) {
		if err := atomicfs.WriteFile(sfs.Afero(), filepath.Join(stateDir, name), rootJSON, 0o600); err != nil {
			return codes.Errorf(codes.StateInvalid, err, "writing %s", name)
		}
	}
	if err := initNet(sfs, stateDir, opts, &cfg); err != nil {
		return err
	}
	return WriteJSON(sfs, filepath.Join(stateDir, ConfigFile), cfg) // last: marks the directory complete
}

// CheckRepoURL accepts http://HOST/..., https://HOST/... and
// file:///ABSOLUTE/PATH repository URLs, without query or fragment.
func CheckRepoURL(u string) error {
	bad := func(why string) error {
		return codes.Errorf(codes.StateInvalid, nil, "repository URL %q: %s", u, why)
	}
	p, err := url.Parse(u)
	if err != nil {
		return bad("does not parse")
	}
	if p.RawQuery != "" || p.Fragment != "" || p.User != nil {
		return bad("must not have a query, a fragment or user info")
	}
	if !strings.HasPrefix(u, p.Scheme+"://") {
		return bad("want http://, https:// or file:///") // e.g. "HTTP://", "file:x"
	}
	switch p.Scheme {
	case "http", "https":
		if p.Host == "" || p.Hostname() == "" {
			return bad("no host")
		}
		if strings.HasSuffix(p.Host, ":") {
			// Go dials port 80 (443) for "host:", which is not what was written.
			return bad("empty port")
		}
		if port := p.Port(); port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return bad("port out of range")
			}
		}
	case "file":
		if p.Host != "" || !strings.HasPrefix(u, "file:///") {
			return bad("want file:///absolute/path")
		}
		if strings.Trim(p.Path, "/") == "" {
			return bad("names no directory")
		}
	default:
		return bad("want http://, https:// or file:///")
	}
	return nil
}

func ReadConfig(stateDir string) (*Config, error) {
	var c Config
	if err := ReadJSON(safefs.New(stateDir), filepath.Join(stateDir, ConfigFile), &c); err != nil {
		return nil, codes.Errorf(codes.StateInvalid, err, "%s is not an initialised state directory (run mclient init)", stateDir)
	}
	if c.Format != ConfigFormat {
		return nil, codes.Errorf(codes.StateInvalid, nil, "%s: format %q, want %q", ConfigFile, c.Format, ConfigFormat)
	}
	if err := CheckConfig(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

// CheckConfig checks a configuration read from client.json or edited.
func CheckConfig(c *Config) error {
	if err := CheckRepoURL(c.RepoURL); err != nil {
		return err
	}
	if err := checkNetConfig(c); err != nil {
		return err
	}
	if err := checkAuth(c); err != nil {
		return err
	}
	if err := checkEncryption(c); err != nil {
		return err
	}
	if _, err := tpmstore.ParseSpec(c.AntiRollback); err != nil {
		return codes.Errorf(codes.StateInvalid, err, "anti-rollback store")
	}
	return checkSettings(c.Settings)
}

// Pointer is the content of models/<model>/active.json.
type Pointer struct {
	ModelID  string `json:"model_id"`
	Version  string `json:"version"`
	Previous string `json:"previous,omitempty"`
	// Trial means the version is active but its health check has not yet
	// passed; a crash in that window is resolved by the next update.
	Trial       bool   `json:"trial,omitempty"`
	ActivatedAt string `json:"activated_at"`
}

// ModelPaths are the paths of one model's state, and the state directory
// they are in (FS).
type ModelPaths struct {
	FS           *safefs.FS
	Dir, Staging string
	// Keys holds the key envelopes of the model's versions installed
	// encrypted at rest: keys/<model>/ (Envelope).
	Keys string
}

// Paths are the paths of a model's state in the state directory stateDir.
func Paths(stateDir, modelID string) ModelPaths {
	return ModelPaths{
		FS:      safefs.New(stateDir),
		Dir:     filepath.Join(stateDir, ModelsDir, modelID),
		Staging: filepath.Join(stateDir, StagingDir, modelID),
		Keys:    filepath.Join(stateDir, KeysDir, modelID),
	}
}

// Envelope is where the key envelope of version v, installed encrypted at
// rest, is kept: keys/<model>/<version>.age (Client.OpenActive reads it).
func (p ModelPaths) Envelope(v string) string { return filepath.Join(p.Keys, v+".age") }

// Version is an installed version's directory; Pointer the active
// pointer; State state.json; StagingFor a version's staging directory.
func (p ModelPaths) Version(v string) string    { return filepath.Join(p.Dir, v) }
func (p ModelPaths) Pointer() string            { return filepath.Join(p.Dir, ActiveFile) }
func (p ModelPaths) State() string              { return filepath.Join(p.Dir, ModelStateFile) }
func (p ModelPaths) StagingFor(v string) string { return filepath.Join(p.Staging, v) }

// StagedPatch is where the patch of file from base is staged:
// staging/<model>/<version>/deltas/<base>/<file>.part. (No payload file's
// staged name, <file>.part, can be a directory named deltas.)
func (p ModelPaths) StagedPatch(v, base, file string) string {
	return filepath.Join(p.StagingFor(v), targets.DeltasDir, base, file+PartSuffix)
}

// ReadPointer returns the active pointer, or nil if the model has none. A
// pointer that exists but cannot be read is an error, never "no active
// version" (which would let an update install over it and remove it).
func ReadPointer(p ModelPaths, modelID string) (*Pointer, error) {
	var ptr Pointer
	err := ReadJSON(p.FS, p.Pointer(), &ptr)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, codes.Errorf(codes.StateInvalid, err, "reading %s", p.Pointer())
	}
	if ptr.ModelID != modelID {
		return nil, codes.Errorf(codes.StateInvalid, nil, "%s names model %q", p.Pointer(), ptr.ModelID)
	}
	if _, err := targets.ParseVersion(ptr.Version); err != nil {
		return nil, codes.Errorf(codes.StateInvalid, err, "%s", p.Pointer())
	}
	if ptr.Previous != "" {
		if _, err := targets.ParseVersion(ptr.Previous); err != nil {
			return nil, codes.Errorf(codes.StateInvalid, err, "%s", p.Pointer())
		}
	}
	return &ptr, nil
}

// WritePointer switches the active version: one atomic rename.
func WritePointer(p ModelPaths, ptr Pointer, now time.Time) error {
	ptr.ActivatedAt = now.UTC().Format(targets.TimeFormat)
	if err := p.FS.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	return WriteJSON(p.FS, p.Pointer(), ptr)
}

// MaxStateFile bounds every JSON state file read.
const MaxStateFile = 1 << 20

func ReadJSON(sfs *safefs.FS, path string, v any) error {
	data, err := sfs.ReadFile(path, MaxStateFile)
	if err != nil {
		return err
	}
	return jsonlimit.UnmarshalStrict(data, v, MaxStateFile)
}

func WriteJSON(sfs *safefs.FS, path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfs.WriteFile(sfs.Afero(), path, append(b, '\n'), 0o600)
}

// Lock takes the state directory's writer lock (flock: released by
// the kernel if the process dies).
func Lock(dir string, wait time.Duration) (func(), error) {
	f, err := safefs.New(dir).OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, codes.Errorf(codes.StateInvalid, err, "opening the lock")
	}
	taken, err := writerlock.Wait(f, time.Now().Add(wait))
	if err != nil {
		f.Close()
		return nil, codes.Errorf(codes.StateInvalid, err, "locking %s", filepath.Join(dir, LockFile))
	}
	if !taken {
		holder := writerlock.Holder(f)
		f.Close()
		return nil, codes.Errorf(codes.Busy, nil, "another mclient process (%s) holds %s; run again when it has finished", holder, filepath.Join(dir, LockFile))
	}
	writerlock.WritePID(f) // for the BUSY message of another process
	return func() {
		writerlock.Release(f) // before Close: see Release
		f.Close()
	}, nil
}
