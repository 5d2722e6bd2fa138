package client

import (
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"github.com/edgetuf/edgetuf/internal/safefs"
)

// The state directory's layout, files and rules are in
// client/internal/devstate; these are the public names.

// Config is the device's configuration, fixed at Init (client.json).
type Config = devstate.Config

// InitOptions configure Init.
type InitOptions = devstate.InitOptions

// Init creates a state directory trusting rootJSON, the root pinned in the
// device image. It makes no network request. An existing state directory
// is refused.
func Init(stateDir string, rootJSON []byte, opts InitOptions) error {
	return devstate.Init(stateDir, rootJSON, opts, tufsession.CheckRoot)
}

// CheckRepoURL accepts http://HOST/..., https://HOST/... and
// file:///ABSOLUTE/PATH repository URLs, without query or fragment.
func CheckRepoURL(u string) error { return devstate.CheckRepoURL(u) }

// CheckRedirectHost validates an allow-list entry for redirects
// (InitOptions.AllowRedirectHosts, Options.AllowRedirectHosts).
func CheckRedirectHost(s string) error {
	_, err := transport.ParseHostEntry(s)
	return err
}

// paths are the paths of one model's state.
func (c *Client) paths(modelID string) devstate.ModelPaths { return devstate.Paths(c.dir, modelID) }

// sfs is the state directory, accessed without following links.
func (c *Client) sfs() *safefs.FS { return safefs.New(c.dir) }

// Settings are the device settings stored in client.json (Config.Settings):
// what mclient update uses when a flag is not given.
type Settings = devstate.Settings

// ConfigKeyError is a key that does not exist, or a value it refuses.
type ConfigKeyError = devstate.KeyError

// ReadConfig reads stateDir's client.json (as Open does, without reading
// the files it names).
func ReadConfig(stateDir string) (*Config, error) { return devstate.ReadConfig(stateDir) }

// Settings returns the device settings stored in the state directory.
func (c *Client) Settings() Settings { return c.cfg.Settings }

// SetSettings stores s as the device settings of stateDir (see EditConfig).
func SetSettings(stateDir string, s Settings) error {
	_, err := EditConfig(stateDir, func(c *Config) error { c.Settings = s; return nil })
	return err
}

// EditConfig changes stateDir's client.json under the state lock, as
// mclient config does: fn edits it (SetConfigKey, UnsetConfigKey, or its
// fields), then it is checked as at Init and replaced atomically. A new
// RepoURL keeps the trusted metadata and the anti-rollback floors.
func EditConfig(stateDir string, fn func(*Config) error) (*Config, error) {
	return devstate.EditConfig(stateDir, 0, fn)
}

// ConfigKeys lists the keys of client.json that SetConfigKey sets, named
// like mclient's flags; ConfigValue reads one ("" when unset).
func ConfigKeys() []string                              { return devstate.Keys() }
func ConfigValue(c *Config, key string) (string, error) { return devstate.GetKey(c, key) }

// SetConfigKey and UnsetConfigKey change one key of c, checking the value
// as the flag of the same name (a *ConfigKeyError otherwise).
func SetConfigKey(c *Config, key, value string) error { return devstate.SetKey(c, key, value) }
func UnsetConfigKey(c *Config, key string) error      { return devstate.UnsetKey(c, key) }
