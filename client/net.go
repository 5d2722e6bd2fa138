package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
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

// netPolicy is what every request of a Client obeys.
type netPolicy struct {
	// allow lists the hosts (host, or host:port) redirects may lead to
	// besides the origin of the request.
	allow []hostEntry
	// requireHTTPS refuses every plain-HTTP request, redirects included.
	requireHTTPS bool
}

// policyError is a request refused by the network policy. It is final:
// retrying cannot change the answer.
type policyError struct{ msg string }

func (e *policyError) Error() string { return e.msg }

// hostEntry is one allow-list entry: a host, with an optional port.
type hostEntry struct{ host, port string }

// parseHostEntry accepts "HOST" and "HOST:PORT" (an IPv6 address in
// brackets when a port is given): a DNS name or an IP address, without
// scheme, user info or path.
func parseHostEntry(s string) (hostEntry, error) {
	bad := func(why string) (hostEntry, error) {
		return hostEntry{}, errorf(StateInvalid, nil, "redirect host %q: %s", s, why)
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
	return hostEntry{host: strings.ToLower(host), port: port}, nil
}

// CheckRedirectHost validates an allow-list entry for redirects
// (InitOptions.AllowRedirectHosts, Options.AllowRedirectHosts).
func CheckRedirectHost(s string) error {
	_, err := parseHostEntry(s)
	return err
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

func (p *netPolicy) allowed(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	for _, e := range p.allow {
		if e.host == host && (e.port == "" || e.port == portOf(u)) {
			return true
		}
	}
	return false
}

// checkRedirect is the http.Client.CheckRedirect of every client.
func (p *netPolicy) checkRedirect(req *http.Request, via []*http.Request) error {
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
		if p.requireHTTPS {
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

// withPolicy returns a copy of hc that obeys p. A redirect check hc
// already had runs after the policy's.
func withPolicy(hc *http.Client, p *netPolicy) *http.Client {
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
	if p.requireHTTPS {
		next := hc.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		out.Transport = httpsOnly{next}
	}
	return &out
}

// finalNetErr reports whether a transfer error cannot be cured by trying
// again: a request the policy refused, or a server certificate that does
// not verify.
func finalNetErr(err error) bool {
	var pe *policyError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &pe) || errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// newTransport is the transport of the default HTTP client. roots are the
// CAs that server certificates must chain to (nil: the system's).
//
// It never keeps a connection open between requests, and a connection
// delivers nothing to net/http before the request is written: net/http
// writes "Unsolicited response received on idle HTTP channel" with the
// stray bytes to the standard logger (the application's, often the
// console) when a server sends something while a connection is idle, and
// offers no setting to route that message elsewhere. A connection that
// is never idle cannot produce it. The price is one connection (and TLS
// handshake) per request: a few per update.
func newTransport(roots *x509.CertPool) *http.Transport {
	tlsCfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
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

// maxCABundle bounds the CA bundle a device stores.
const maxCABundle = 1 << 20

// parseCABundle returns the certificates of a PEM bundle: every block
// must be a parseable CERTIFICATE, and there must be at least one.
func parseCABundle(data []byte) (*x509.CertPool, error) {
	if len(data) > maxCABundle {
		return nil, fmt.Errorf("larger than %d bytes", maxCABundle)
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
