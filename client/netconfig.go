package client

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
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
		return errorf(StateInvalid, nil, "repository URL %q: HTTPS is required", opts.RepoURL)
	}
	if opts.CABundle != nil {
		if _, err := parseCABundle(opts.CABundle); err != nil {
			return errorf(StateInvalid, err, "CA bundle")
		}
	}
	for _, h := range opts.AllowRedirectHosts {
		if err := CheckRedirectHost(h); err != nil {
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
			return errorf(StateInvalid, err, "writing %s", caFile)
		}
		cfg.CAFile = caFile
	}
	cfg.RequireHTTPS = opts.RequireHTTPS
	for _, h := range opts.AllowRedirectHosts {
		e, _ := parseHostEntry(h) // checked by checkNetOptions
		s := e.host
		if strings.Contains(s, ":") {
			s = "[" + s + "]"
		}
		if e.port != "" {
			s += ":" + e.port
		}
		cfg.AllowRedirectHosts = append(cfg.AllowRedirectHosts, s)
	}
	return nil
}

// checkNetConfig validates the network fields of client.json: files
// written by older versions have none of them.
func checkNetConfig(c *Config) error {
	if c.CAFile != "" && c.CAFile != caFile {
		return errorf(StateInvalid, nil, "%s: ca_file %q, want %q", configFile, c.CAFile, caFile)
	}
	if c.RequireHTTPS && !strings.HasPrefix(c.RepoURL, "https://") && !strings.HasPrefix(c.RepoURL, "file://") {
		return errorf(StateInvalid, nil, "%s: require_https with the repository URL %q", configFile, c.RepoURL)
	}
	for _, h := range c.AllowRedirectHosts {
		if err := CheckRedirectHost(h); err != nil {
			return errorf(StateInvalid, err, "%s", configFile)
		}
	}
	return nil
}

// netConfig is what Open needs to build the device's HTTP client: the
// redirect and HTTPS policy, and the CA pool (nil: the system's). A CA
// bundle that client.json names but that is missing or damaged fails:
// falling back to the system's roots would trust more than configured.
func netConfig(stateDir string, cfg *Config, opts Options) (*netPolicy, *x509.CertPool, error) {
	p := &netPolicy{requireHTTPS: cfg.RequireHTTPS}
	for _, list := range [][]string{cfg.AllowRedirectHosts, opts.AllowRedirectHosts} {
		for _, h := range list {
			e, err := parseHostEntry(h)
			if err != nil {
				return nil, nil, err
			}
			p.allow = append(p.allow, e)
		}
	}
	if cfg.CAFile == "" {
		return p, nil, nil
	}
	path := filepath.Join(stateDir, cfg.CAFile)
	data, err := safefs.New(stateDir).ReadFile(path, maxCABundle)
	if err != nil {
		return nil, nil, errorf(StateInvalid, err, "reading the CA bundle")
	}
	pool, err := parseCABundle(data)
	if err != nil {
		return nil, nil, errorf(StateInvalid, err, "CA bundle %s", path)
	}
	return p, pool, nil
}

// withRoots returns a copy of a caller's HTTP client whose transport
// trusts only roots: the CA bundle applies to every connection of the
// device. A transport it cannot configure is refused rather than left
// trusting the system's roots.
func withRoots(hc *http.Client, roots *x509.CertPool) (*http.Client, error) {
	var tr *http.Transport
	switch t := hc.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, errorf(StateInvalid, nil, "the state directory's CA bundle cannot be applied to an HTTP transport of type %T", hc.Transport)
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.RootCAs = roots
	out := *hc
	out.Transport = tr
	return &out, nil
}
