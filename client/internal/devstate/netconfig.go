package devstate

import (
	"crypto/x509"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"path/filepath"
	"strings"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/safefs"
)

// caFile is the CA bundle's name in the state directory.
const caFile = "ca.pem"

// checkNetOptions validates Init's network options before anything is
// written.
func checkNetOptions(opts InitOptions) error {
	if opts.RequireHTTPS && strings.HasPrefix(opts.RepoURL, "http://") {
		return codes.Errorf(codes.StateInvalid, nil, "repository URL %q: HTTPS is required", opts.RepoURL)
	}
	if opts.CABundle != nil {
		if _, err := transport.ParseCABundle(opts.CABundle); err != nil {
			return codes.Errorf(codes.StateInvalid, err, "CA bundle")
		}
	}
	for _, h := range opts.AllowRedirectHosts {
		if _, err := transport.ParseHostEntry(h); err != nil {
			return err
		}
	}
	return nil
}

// initNet stores Init's network options: the CA bundle as a file of the
// state directory, the rest in cfg.
func initNet(sfs *safefs.FS, stateDir string, opts InitOptions, cfg *Config) error {
	if opts.CABundle != nil {
		if err := atomicfs.WriteFile(sfs.Afero(), filepath.Join(stateDir, caFile), opts.CABundle, 0o600); err != nil {
			return codes.Errorf(codes.StateInvalid, err, "writing %s", caFile)
		}
		cfg.CAFile = caFile
	}
	cfg.RequireHTTPS = opts.RequireHTTPS
	for _, h := range opts.AllowRedirectHosts {
		e, _ := transport.ParseHostEntry(h) // checked by checkNetOptions
		s := e.Host
		if strings.Contains(s, ":") {
			s = "[" + s + "]"
		}
		if e.Port != "" {
			s += ":" + e.Port
		}
		cfg.AllowRedirectHosts = append(cfg.AllowRedirectHosts, s)
	}
	return nil
}

// checkNetConfig validates the network fields of client.json: files
// written by older versions have none of them.
func checkNetConfig(c *Config) error {
	if c.CAFile != "" && c.CAFile != caFile {
		return codes.Errorf(codes.StateInvalid, nil, "%s: ca_file %q, want %q", ConfigFile, c.CAFile, caFile)
	}
	if c.RequireHTTPS && !strings.HasPrefix(c.RepoURL, "https://") && !strings.HasPrefix(c.RepoURL, "file://") {
		return codes.Errorf(codes.StateInvalid, nil, "%s: require_https with the repository URL %q", ConfigFile, c.RepoURL)
	}
	for _, h := range c.AllowRedirectHosts {
		if _, err := transport.ParseHostEntry(h); err != nil {
			return codes.Errorf(codes.StateInvalid, err, "%s", ConfigFile)
		}
	}
	return nil
}

// NetConfig is what Open needs to build the device's HTTP client: the
// redirect and HTTPS policy, the CA pool (nil: the system's) and the
// credentials, read from their files now. A CA bundle or credential file
// that client.json names but that is missing or damaged fails: falling
// back to the system's roots would trust more than configured.
func NetConfig(stateDir string, cfg *Config, allow []string) (*transport.Policy, *x509.CertPool, *transport.Auth, error) {
	p, pool, err := netPolicy(stateDir, cfg, allow)
	if err != nil {
		return nil, nil, nil, err
	}
	auth, err := transport.LoadAuth(cfg.RepoURL, cfg.AuthFiles())
	if err != nil {
		return nil, nil, nil, err
	}
	return p, pool, auth, nil
}

func netPolicy(stateDir string, cfg *Config, allow []string) (*transport.Policy, *x509.CertPool, error) {
	p := &transport.Policy{RequireHTTPS: cfg.RequireHTTPS}
	for _, list := range [][]string{cfg.AllowRedirectHosts, allow} {
		for _, h := range list {
			e, err := transport.ParseHostEntry(h)
			if err != nil {
				return nil, nil, err
			}
			p.Allow = append(p.Allow, e)
		}
	}
	if cfg.CAFile == "" {
		return p, nil, nil
	}
	path := filepath.Join(stateDir, cfg.CAFile)
	data, err := safefs.New(stateDir).ReadFile(path, transport.MaxCABundle)
	if err != nil {
		return nil, nil, codes.Errorf(codes.StateInvalid, err, "reading the CA bundle")
	}
	pool, err := transport.ParseCABundle(data)
	if err != nil {
		return nil, nil, codes.Errorf(codes.StateInvalid, err, "CA bundle %s", path)
	}
	return p, pool, nil
}
