package devstate

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/eligibility"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/internal/safefs"
)

// Settings are the device settings stored in client.json ("settings"):
// what mclient update uses when the flag of the same name is not given.
// Zero is not set: the flag's default. Files written before settings
// existed have none.
type Settings struct {
	AppVersion string `json:"app_version,omitempty"`
	// Runtime is NAME@VERSION.
	Runtime              string `json:"runtime,omitempty"`
	Platform             string `json:"platform,omitempty"`
	Variant              string `json:"variant,omitempty"`
	InputSchemaHash      string `json:"input_schema_hash,omitempty"`
	OutputSchemaHash     string `json:"output_schema_hash,omitempty"`
	PreprocessConfigHash string `json:"preprocess_config_hash,omitempty"`
	HealthCheck          string `json:"health_check,omitempty"`
	// HealthTimeout, StallTimeout and Timeout are positive when set.
	HealthTimeout duration.Duration `json:"health_timeout,omitempty"`
	// Keep is at least 1 when set.
	Keep    int  `json:"keep,omitempty"`
	NoDelta bool `json:"no_delta,omitempty"`
	// Retries, when set, is how many more times a failed transfer is
	// tried (0: never).
	Retries      *int              `json:"retries,omitempty"`
	StallTimeout duration.Duration `json:"stall_timeout,omitempty"`
	Timeout      duration.Duration `json:"timeout,omitempty"`
	// RehashEvery, when set (positive), makes an up-to-date update re-hash
	// the active version in full when the last good full re-hash is older.
	RehashEvery duration.Duration `json:"rehash_every,omitempty"`
	// TelemetryURL is the fleet collector's base URL and OSVersion the OS
	// version reports carry (telemetry.go).
	TelemetryURL string `json:"telemetry_url,omitempty"`
	OSVersion    string `json:"os_version,omitempty"`
}

// Device is the device description the settings give.
func (s Settings) Device() eligibility.Device {
	d := eligibility.Device{AppVersion: s.AppVersion, Platform: s.Platform, Variant: s.Variant,
		InputSchemaHash: s.InputSchemaHash, OutputSchemaHash: s.OutputSchemaHash, PreprocessConfigHash: s.PreprocessConfigHash}
	d.Runtime, d.RuntimeVersion, _ = strings.Cut(s.Runtime, "@")
	return d
}

// TransferDefaults fills the transfer options left at zero (retries: 0
// is the default, negative never) from the settings.
func (s Settings) TransferDefaults(retries *int, stall, timeout *time.Duration) {
	if *retries == 0 && s.Retries != nil {
		*retries = max(*s.Retries, 0)
		if *retries == 0 {
			*retries = -1
		}
	}
	if *stall == 0 {
		*stall = time.Duration(s.StallTimeout)
	}
	if *timeout == 0 {
		*timeout = time.Duration(s.Timeout)
	}
}

// KeyError is a key that does not exist or a value a key refuses: a
// usage error.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return fmt.Sprintf("%s %v", e.Key, e.Err) }
func (e *KeyError) Unwrap() error { return e.Err }

// A key is one setting of client.json that mclient config sets, named like
// the flag that gives it; set parses and checks a value, get returns
// it ("" when unset), unset removes it (nil: it cannot be removed).
type key struct {
	name  string
	get   func(*Config) string
	set   func(*Config, string) error
	unset func(*Config)
}

func str(name string, field func(*Config) *string, check func(string) error) key {
	return key{name, func(c *Config) string { return *field(c) },
		func(c *Config, v string) error {
			if v == "" {
				return fmt.Errorf("needs a value (mclient config unset removes one)")
			}
			if check != nil {
				if err := check(v); err != nil {
					return err
				}
			}
			*field(c) = v
			return nil
		}, func(c *Config) { *field(c) = "" }}
}

func dur(name string, field func(*Config) *duration.Duration) key {
	return key{name, func(c *Config) string {
		if *field(c) == 0 {
			return ""
		}
		return time.Duration(*field(c)).String()
	}, func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%q: want a positive duration such as 90s or 5m", v)
		}
		*field(c) = duration.Duration(d)
		return nil
	}, func(c *Config) { *field(c) = 0 }}
}

// path is a credential file: stored absolute, so that every later run
// finds it whatever its working directory.
func path(name string, field func(*Config) *string) key {
	k := str(name, field, nil)
	set := k.set
	k.set = func(c *Config, v string) error {
		if v != "" {
			abs, err := filepath.Abs(v)
			if err != nil {
				return err
			}
			v = abs
		}
		return set(c, v)
	}
	return k
}

// CheckRuntime accepts NAME@VERSION.
func CheckRuntime(rt string) error {
	name, ver, ok := strings.Cut(rt, "@")
	if !ok || name == "" || ver == "" {
		return fmt.Errorf("%q: want NAME@VERSION", rt)
	}
	return nil
}

var keys = append([]key{
	{"repo-url", func(c *Config) string { return c.RepoURL }, func(c *Config, v string) error {
		if err := CheckRepoURL(v); err != nil {
			return fmt.Errorf("%s", codes.ReasonOf(err))
		}
		if c.RequireHTTPS && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "file://") {
			return fmt.Errorf("%q is not https:// and this device requires HTTPS", v)
		}
		c.RepoURL = strings.TrimSuffix(v, "/")
		return nil
	}, nil},
	str("app-version", func(c *Config) *string { return &c.Settings.AppVersion }, nil),
	str("runtime", func(c *Config) *string { return &c.Settings.Runtime }, CheckRuntime),
	str("platform", func(c *Config) *string { return &c.Settings.Platform }, nil),
	str("variant", func(c *Config) *string { return &c.Settings.Variant }, nil),
	str("input-schema-hash", func(c *Config) *string { return &c.Settings.InputSchemaHash }, nil),
	str("output-schema-hash", func(c *Config) *string { return &c.Settings.OutputSchemaHash }, nil),
	str("preprocess-config-hash", func(c *Config) *string { return &c.Settings.PreprocessConfigHash }, nil),
	str("health-check", func(c *Config) *string { return &c.Settings.HealthCheck }, nil),
	dur("health-timeout", func(c *Config) *duration.Duration { return &c.Settings.HealthTimeout }),
	{"keep", func(c *Config) string { return itoa(c.Settings.Keep) }, func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("must be at least 1")
		}
		c.Settings.Keep = n
		return nil
	}, func(c *Config) { c.Settings.Keep = 0 }},
	{"no-delta", func(c *Config) string { return map[bool]string{true: "true"}[c.Settings.NoDelta] }, func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q: want true or false", v)
		}
		c.Settings.NoDelta = b
		return nil
	}, func(c *Config) { c.Settings.NoDelta = false }},
	{"retries", func(c *Config) string {
		if c.Settings.Retries == nil {
			return ""
		}
		return strconv.Itoa(*c.Settings.Retries)
	}, func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q: want a number", v)
		}
		n = max(n, 0) // none
		c.Settings.Retries = &n
		return nil
	}, func(c *Config) { c.Settings.Retries = nil }},
	dur("stall-timeout", func(c *Config) *duration.Duration { return &c.Settings.StallTimeout }),
	dur("timeout", func(c *Config) *duration.Duration { return &c.Settings.Timeout }),
	dur("rehash-every", func(c *Config) *duration.Duration { return &c.Settings.RehashEvery }),
	path("auth-token-file", func(c *Config) *string { return &c.AuthTokenFile }),
	path("auth-header-file", func(c *Config) *string { return &c.AuthHeaderFile }),
	path("client-cert", func(c *Config) *string { return &c.ClientCert }),
	path("client-key", func(c *Config) *string { return &c.ClientKey }),
}, append(encryptionKeys, telemetryKeys...)...)

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// Keys lists the keys of SetKey, in the order config show prints them.
func Keys() []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.name
	}
	return out
}

func lookup(name string) (key, error) {
	for _, k := range keys {
		if k.name == name {
			return k, nil
		}
	}
	return key{}, &KeyError{name, fmt.Errorf("is not a key (mclient config show lists them)")}
}

// GetKey returns a key's value ("" when unset).
func GetKey(c *Config, name string) (string, error) {
	k, err := lookup(name)
	if err != nil {
		return "", err
	}
	return k.get(c), nil
}

// SetKey sets a key of c, checking the value as the flag of the same name
// is checked (a *KeyError otherwise). CheckConfig checks c as a whole.
func SetKey(c *Config, name, value string) error {
	k, err := lookup(name)
	if err != nil {
		return err
	}
	if err := k.set(c, value); err != nil {
		return &KeyError{name, err}
	}
	return nil
}

// UnsetKey removes a key's value from c.
func UnsetKey(c *Config, name string) error {
	k, err := lookup(name)
	if err != nil {
		return err
	}
	if k.unset == nil {
		return &KeyError{name, fmt.Errorf("cannot be unset")}
	}
	k.unset(c)
	return nil
}

// checkSettings checks the settings read from client.json as the flags
// are checked.
func checkSettings(s Settings) error {
	bad := func(key string, why any) error {
		return codes.Errorf(codes.StateInvalid, nil, "%s: settings: %s: %v", ConfigFile, key, why)
	}
	if s.Runtime != "" {
		if err := CheckRuntime(s.Runtime); err != nil {
			return bad("runtime", err)
		}
	}
	if s.Keep < 0 {
		return bad("keep", "must be at least 1")
	}
	if err := checkTelemetrySettings(s); err != nil {
		return bad(err.key, err.err)
	}
	if s.Retries != nil && *s.Retries < 0 {
		return bad("retries", "must not be negative")
	}
	for k, d := range map[string]duration.Duration{"health_timeout": s.HealthTimeout, "stall_timeout": s.StallTimeout, "timeout": s.Timeout, "rehash_every": s.RehashEvery} {
		if d < 0 {
			return bad(k, "must be positive")
		}
	}
	return nil
}

// checkAuth checks the credential settings of client.json: absolute
// paths, and no token or header sent in the clear to anything but this
// machine.
func checkAuth(c *Config) error {
	for _, p := range []string{c.AuthTokenFile, c.AuthHeaderFile, c.ClientCert, c.ClientKey} {
		if p != "" && !filepath.IsAbs(p) {
			return codes.Errorf(codes.StateInvalid, nil, "%s: credential file %q is not an absolute path", ConfigFile, p)
		}
	}
	if c.AuthTokenFile == "" && c.AuthHeaderFile == "" {
		return nil
	}
	u, err := url.Parse(c.RepoURL)
	if err != nil {
		return codes.Errorf(codes.StateInvalid, err, "repository URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (u.Hostname() == "localhost" || net.ParseIP(u.Hostname()).IsLoopback()):
	default:
		return codes.Errorf(codes.StateInvalid, nil, "a token or header file needs an https:// repository URL (or http:// to this machine), not %q: it would be sent in the clear", c.RepoURL)
	}
	return nil
}

// AuthFiles are the credential files client.json names.
func (c *Config) AuthFiles() transport.AuthFiles {
	return transport.AuthFiles{TokenFile: c.AuthTokenFile, HeaderFile: c.AuthHeaderFile, ClientCert: c.ClientCert, ClientKey: c.ClientKey}
}

// EditConfig changes client.json under the state lock (waiting up to
// wait for it): fn edits the stored configuration, which must then pass
// the checks of ReadConfig, and the credential files it names must load.
// The file is replaced atomically; the trusted metadata, the anti-rollback
// floors and the models are not touched.
func EditConfig(stateDir string, wait time.Duration, fn func(*Config) error) (*Config, error) {
	if _, err := ReadConfig(stateDir); err != nil { // before the lock: creates nothing elsewhere
		return nil, err
	}
	unlock, err := Lock(stateDir, wait)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := ReadConfig(stateDir)
	if err != nil {
		return nil, err
	}
	if err := fn(c); err != nil {
		return nil, err
	}
	if err := CheckConfig(c); err != nil {
		return nil, err
	}
	files := c.AuthFiles()
	if (files.ClientCert == "") != (files.ClientKey == "") {
		// The other half comes with the next edit; until then, the
		// device's client refuses to open.
		files.ClientCert, files.ClientKey = "", ""
	}
	if _, err := transport.LoadAuth(c.RepoURL, files); err != nil {
		return nil, err
	}
	if err := WriteJSON(safefs.New(stateDir), filepath.Join(stateDir, ConfigFile), c); err != nil {
		return nil, codes.Errorf(codes.StateInvalid, err, "writing %s", ConfigFile)
	}
	return c, nil
}
