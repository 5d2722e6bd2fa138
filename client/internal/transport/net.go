package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The network policy of a device: where requests may go and how.
//
// Redirects: a repository answer may redirect a request only to the same
// origin (scheme, host and port) as the request the client made, unless
// the target host is in the allow-list (a CDN); never from https to http,
// never to http when HTTPS is required, and at most maxRedirects times.
// Otherwise a hostile or compromised server could make a device fetch
// from internal addresses, or downgrade it to plain HTTP.
const maxRedirects = 5

// Policy is what every request of a Client obeys.
type Policy struct {
	// Allow lists the hosts (host, or host:port) redirects may lead to
	// besides the origin of the request.
	Allow []HostEntry
	// RequireHTTPS refuses every plain-HTTP request, redirects included.
	RequireHTTPS bool
}

// policyError is a request refused by the network policy. It is final:
// retrying cannot change the answer.
type policyError struct{ msg string }

func (e *policyError) Error() string { return e.msg }

// HostEntry is one allow-list entry: a host, with an optional port.
type HostEntry struct{ Host, Port string }

// ParseHostEntry accepts "HOST" and "HOST:PORT" (an IPv6 address in
// brackets when a port is given): a DNS name or an IP address, without
// scheme, user info or path.
func ParseHostEntry(s string) (HostEntry, error) {
	bad := func(why string) (HostEntry, error) {
		return HostEntry{}, codes.Errorf(codes.StateInvalid, nil, "redirect host %q: %s", s, why)
	}
	if s == "" || strings.ContainsAny(s, "/@?#\\ \t") {
		return bad("want HOST or HOST:PORT")
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
			return bad("port must be 1-65535")
		}
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	if host == "" || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return bad("want HOST or HOST:PORT")
	}
	for _, r := range host {
		ok := r == '.' || r == '-' || r == ':' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !ok {
			return bad("not a host name or IP address")
		}
	}
	return HostEntry{Host: strings.ToLower(host), Port: port}, nil
}

// origin is scheme://host:port with the scheme's default port filled in.
func origin(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + portOf(u)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

func (p *Policy) allowed(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	for _, e := range p.Allow {
		if e.Host == host && (e.Port == "" || e.Port == portOf(u)) {
			return true
		}
	}
	return false
}

// checkRedirect is the http.Client.CheckRedirect of every client.
func (p *Policy) checkRedirect(req *http.Request, via []*http.Request) error {
	from := via[len(via)-1].URL
	refuse := func(format string, args ...any) error {
		return &policyError{fmt.Sprintf("refusing the redirect from %s to %s: ", from.Redacted(), req.URL.Redacted()) + fmt.Sprintf(format, args...)}
	}
	if len(via) > maxRedirects {
		return refuse("more than %d redirects", maxRedirects)
	}
	switch req.URL.Scheme {
	case "https":
	case "http":
		if p.RequireHTTPS {
			return refuse("plain HTTP is refused (HTTPS is required)")
		}
		for _, r := range via {
			if r.URL.Scheme == "https" {
				return refuse("from HTTPS to plain HTTP")
			}
		}
	default:
		return refuse("unsupported scheme")
	}
	if origin(req.URL) == origin(via[0].URL) || p.allowed(req.URL) {
		return nil
	}
	return refuse("another host (allow it with --allow-redirect %s at mclient init, or Options.AllowRedirectHosts)", req.URL.Host)
}

// httpsOnly refuses plain-HTTP requests when HTTPS is required, whatever
// produced them.
type httpsOnly struct{ next http.RoundTripper }

func (t httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &policyError{fmt.Sprintf("refusing %s: plain HTTP is refused (HTTPS is required)", req.URL.Redacted())}
	}
	return t.next.RoundTrip(req)
}

// WithPolicy returns a copy of hc that obeys p. A redirect check hc
// already had runs after the policy's.
func WithPolicy(hc *http.Client, p *Policy) *http.Client {
	out := *hc
	own := hc.CheckRedirect
	out.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := p.checkRedirect(req, via); err != nil {
			return err
		}
		if own != nil {
			return own(req, via)
		}
		return nil
	}
	if p.RequireHTTPS {
		next := hc.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		out.Transport = httpsOnly{next}
	}
	return &out
}

// FinalNetErr reports whether a transfer error cannot be cured by trying
// again: a request the policy refused, or a server certificate that does
// not verify.
func FinalNetErr(err error) bool {
	var pe *policyError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &pe) || errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// NewHTTPClient is the device's default HTTP client; roots as for
// NewTransport.
func NewHTTPClient(roots *x509.CertPool) *http.Client {
	return &http.Client{Transport: NewTransport(roots)}
}

// NewTransport is the transport of the default HTTP client. roots are the
// CAs that server certificates must chain to (nil: the system's); certs,
// the client certificate presented to servers that ask for one.
//
// It never keeps a connection open between requests, and a connection
// delivers nothing to net/http before the request is written: net/http
// writes "Unsolicited response received on idle HTTP channel" with the
// stray bytes to the standard logger (the application's, often the
// console) when a server sends something while a connection is idle, and
// offers no setting to route that message elsewhere. A connection that
// is never idle cannot produce it. The price is one connection (and TLS
// handshake) per request: a few per update.
func NewTransport(roots *x509.CertPool, certs ...tls.Certificate) *http.Transport {
	tlsCfg := &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12}
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return gate(c), nil
		},
		// The TLS handshake is done here, so that the gate sits above TLS
		// (bytes sent right after the handshake wait for the request too).
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			raw, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				raw.Close()
				return nil, err
			}
			cfg := tlsCfg.Clone()
			cfg.ServerName = host
			tc := tls.Client(raw, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return gate(tc), nil
		},
		// Used only through an HTTP proxy (CONNECT), where net/http does the
		// handshake itself.
		TLSClientConfig:        tlsCfg,
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// gatedConn holds back reads until the first write: net/http's reader
// starts as soon as a connection is dialled, before the request is
// counted, and would log whatever a server sends first.
type gatedConn struct {
	net.Conn
	once sync.Once
	open chan struct{}
}

func gate(c net.Conn) net.Conn { return &gatedConn{Conn: c, open: make(chan struct{})} }

func (c *gatedConn) unblock() { c.once.Do(func() { close(c.open) }) }

func (c *gatedConn) Read(p []byte) (int, error) {
	<-c.open
	return c.Conn.Read(p)
}

func (c *gatedConn) Write(p []byte) (int, error) {
	c.unblock()
	return c.Conn.Write(p)
}

func (c *gatedConn) Close() error {
	c.unblock()
	return c.Conn.Close()
}

// MaxCABundle bounds the CA bundle a device stores.
const MaxCABundle = 1 << 20

// ParseCABundle returns the certificates of a PEM bundle: every block
// must be a parseable CERTIFICATE, and there must be at least one.
func ParseCABundle(data []byte) (*x509.CertPool, error) {
	if len(data) > MaxCABundle {
		return nil, fmt.Errorf("larger than %d bytes", MaxCABundle)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if strings.TrimSpace(string(rest)) != "" {
				return nil, errors.New("not a PEM bundle of certificates")
			}
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %s block; want only CERTIFICATE blocks", b.Type)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("holds no certificate")
	}
	return pool, nil
}

// withTLS returns a copy of a caller's HTTP client whose transport
// trusts only roots (if not nil: the CA bundle applies to every connection
// of the device) and presents certs. A transport it cannot configure is
// refused rather than left trusting the system's roots or without the
// client certificate.
func withTLS(hc *http.Client, roots *x509.CertPool, certs []tls.Certificate) (*http.Client, error) {
	var tr *http.Transport
	switch t := hc.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, codes.Errorf(codes.StateInvalid, nil, "the state directory's CA bundle or client certificate cannot be applied to an HTTP transport of type %T", hc.Transport)
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	if roots != nil {
		tr.TLSClientConfig.RootCAs = roots
	}
	if len(certs) > 0 {
		tr.TLSClientConfig.Certificates = certs
	}
	out := *hc
	out.Transport = tr
	return &out, nil
}

// Offline refuses every request: offline sessions must not touch the
// network.
type Offline struct{}

func (Offline) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, codes.Errorf(codes.Network, nil, "offline: no network access")
}
