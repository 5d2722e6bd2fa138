package devstate

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/internal/safefs"
)

// The forms an encrypted version's payload takes on the device
// (Config.AtRest): decrypted once at install, or kept as the signed
// ciphertext and decrypted by every read (client.OpenActive).
const (
	AtRestPlaintext = "plaintext"
	AtRestEncrypted = "encrypted"
)

// KeysDir holds, per model, the key envelope of each version installed
// encrypted at rest: keys/<model>/<version>.age (EnvelopeFile).
const KeysDir = "keys"

// EnvelopeFile is where the key envelope of modelID at version is kept
// when the version is installed encrypted at rest.
func EnvelopeFile(stateDir, modelID, version string) string {
	return Paths(stateDir, modelID).Envelope(version)
}

// ReadEnvelope reads the kept key envelope of modelID at version through
// sfs, bounded by max: a missing one is KEY_UNAVAILABLE, one that is not
// a regular file or is larger than max STATE_INVALID.
func ReadEnvelope(sfs *safefs.FS, stateDir, modelID, version string, max int64) ([]byte, error) {
	path := EnvelopeFile(stateDir, modelID, version)
	if _, err := sfs.Lstat(path); errors.Is(err, fs.ErrNotExist) && !safefs.IsUnsafe(err) {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "%s %s is kept encrypted and its key envelope is gone", modelID, version)
	}
	data, err := sfs.ReadFile(path, max)
	if err != nil {
		return nil, codes.Errorf(codes.StateInvalid, err, "key envelope of %s %s", modelID, version)
	}
	return data, nil
}

// EncryptedAtRest says whether client.json keeps encrypted versions
// encrypted on disk.
func (c *Config) EncryptedAtRest() bool { return c.AtRest == AtRestEncrypted }

// CheckFleetKey accepts the devicekey references a fleet key may have:
// file:PATH and pkcs11:URI. A TPM cannot hold a key shared by a fleet:
// devicekey creates TPM keys inside the TPM and cannot import one.
func CheckFleetKey(ref string) error {
	r, err := devicekey.ParseRef(ref)
	if err != nil {
		return err
	}
	if r.Backend == devicekey.BackendTPM {
		return fmt.Errorf("%q: a fleet key cannot be in a TPM (a TPM key is made inside one TPM and never leaves it; use file:PATH or pkcs11:URI)", ref)
	}
	return nil
}

// CheckKeyServer accepts a key service base URL: https://HOST[:PORT][/PATH],
// or http:// to this machine (tests, a local proxy), without query,
// fragment or user info. With requireHTTPS only https:// is accepted.
func CheckKeyServer(u string, requireHTTPS bool) error {
	if strings.HasPrefix(u, "file:") {
		return fmt.Errorf("%q: want https://HOST", u)
	}
	if err := CheckRepoURL(u); err != nil {
		return fmt.Errorf("%s", strings.Replace(codes.ReasonOf(err), "repository URL", "key server URL", 1))
	}
	p, _ := url.Parse(u)
	if p.Scheme == "http" && (requireHTTPS || !(p.Hostname() == "localhost" || net.ParseIP(p.Hostname()).IsLoopback())) {
		return fmt.Errorf("%q: want https:// (http:// only to this machine, and never with require_https)", u)
	}
	return nil
}

// CheckAtRest accepts the values of at_rest.
func CheckAtRest(v string) error {
	if v != AtRestPlaintext && v != AtRestEncrypted {
		return fmt.Errorf("%q: want %s or %s", v, AtRestPlaintext, AtRestEncrypted)
	}
	return nil
}

// encryptionKeys are the keys of mclient config (and the flags of
// mclient init) that configure encrypted versions.
var encryptionKeys = []key{
	{"fleet-key", func(c *Config) string { return c.FleetKey }, func(c *Config, v string) error {
		if err := CheckFleetKey(v); err != nil {
			return err
		}
		// A file: path is stored absolute, as the credential files are.
		if r, _ := devicekey.ParseRef(v); r.Backend == devicekey.BackendFile {
			abs, err := filepath.Abs(r.Path)
			if err != nil {
				return err
			}
			v = devicekey.Ref{Backend: devicekey.BackendFile, Path: abs}.String()
		}
		c.FleetKey = v
		return nil
	}, func(c *Config) { c.FleetKey = "" }},
	{"key-server", func(c *Config) string { return c.KeyServer }, func(c *Config, v string) error {
		if err := CheckKeyServer(v, c.RequireHTTPS); err != nil {
			return err
		}
		c.KeyServer = strings.TrimSuffix(v, "/")
		return nil
	}, func(c *Config) { c.KeyServer = "" }},
	str("at-rest", func(c *Config) *string { return &c.AtRest }, CheckAtRest),
}

// checkEncryption checks the encryption fields of client.json.
func checkEncryption(c *Config) error {
	bad := func(key string, err error) error {
		return codes.Errorf(codes.StateInvalid, nil, "%s: %s: %v", ConfigFile, key, err)
	}
	if c.FleetKey != "" {
		if err := CheckFleetKey(c.FleetKey); err != nil {
			return bad("fleet_key", err)
		}
		if r, _ := devicekey.ParseRef(c.FleetKey); r.Backend == devicekey.BackendFile && !filepath.IsAbs(r.Path) {
			return bad("fleet_key", fmt.Errorf("%q is not an absolute path", c.FleetKey))
		}
	}
	if c.KeyServer != "" {
		if err := CheckKeyServer(c.KeyServer, c.RequireHTTPS); err != nil {
			return bad("key_server", err)
		}
	}
	if c.AtRest != "" {
		if err := CheckAtRest(c.AtRest); err != nil {
			return bad("at_rest", err)
		}
	}
	return nil
}
