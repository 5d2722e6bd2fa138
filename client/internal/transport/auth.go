package transport

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/fileperm"
)

// Authenticated repositories: a bearer token or HTTP headers read from
// files, and a client certificate for mutual TLS. The files are read when
// the device's client is built (each mclient run), so a rotated token is
// used from the next run on.
//
// Headers are added to the requests to the repository's own origin
// (scheme, host and port of its URL) only: never to a redirect target on
// another origin, allowed redirect hosts (a CDN) included, so that a
// redirect cannot carry the device's credentials elsewhere. A CDN reached
// by redirect authorises the request by its URL (a signed URL). The client
// certificate is presented to the servers that ask for one. No value read
// from these files ever appears in an error, a log or an event.

// Auth is what the device presents to its repository.
type Auth struct {
	// Origin is the repository's scheme://host:port.
	Origin string
	// Header is added to every request to Origin.
	Header http.Header
	// Certs is the client certificate for mutual TLS (none if empty).
	Certs []tls.Certificate
}

// AuthFiles name the files that hold the device's credentials ("": none).
type AuthFiles struct {
	TokenFile, HeaderFile, ClientCert, ClientKey string
}

// maxAuthFile bounds each credential file.
const maxAuthFile = 64 << 10

// maxHeaders bounds the headers of a header file.
const maxHeaders = 64

// LoadAuth reads the credential files of a repository at repoURL. Token,
// header and key files must be readable by their owner only
// (fileperm.Secret); errors never quote their content.
func LoadAuth(repoURL string, f AuthFiles) (*Auth, error) {
	u, err := url.Parse(repoURL)
	if err != nil {
		return nil, codes.Errorf(codes.StateInvalid, err, "repository URL")
	}
	a := &Auth{Origin: origin(u), Header: http.Header{}}
	if f.HeaderFile != "" {
		data, err := readSecret(f.HeaderFile, "header file")
		if err != nil {
			return nil, err
		}
		if a.Header, err = ParseHeaders(data); err != nil {
			return nil, codes.Errorf(codes.StateInvalid, err, "header file %s", f.HeaderFile)
		}
	}
	if f.TokenFile != "" {
		data, err := readSecret(f.TokenFile, "token file")
		if err != nil {
			return nil, err
		}
		tok, err := parseToken(data)
		if err != nil {
			return nil, codes.Errorf(codes.StateInvalid, err, "token file %s", f.TokenFile)
		}
		if a.Header.Get("Authorization") != "" {
			return nil, codes.Errorf(codes.StateInvalid, nil, "header file %s sets Authorization and a token file is given too", f.HeaderFile)
		}
		a.Header.Set("Authorization", "Bearer "+tok)
	}
	if (f.ClientCert == "") != (f.ClientKey == "") {
		return nil, codes.Errorf(codes.StateInvalid, nil, "a client certificate needs both its certificate and its key file")
	}
	if f.ClientCert != "" {
		key, err := readSecret(f.ClientKey, "client key file")
		if err != nil {
			return nil, err
		}
		cert, err := readFile(f.ClientCert, "client certificate file", false)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			// crypto/tls never quotes the key in its errors.
			return nil, codes.Errorf(codes.StateInvalid, err, "client certificate %s with key %s", f.ClientCert, f.ClientKey)
		}
		a.Certs = []tls.Certificate{pair}
	}
	return a, nil
}

// readSecret reads a credential file that only its owner may read.
func readSecret(path, what string) ([]byte, error) { return readFile(path, what, true) }

// readFile reads a credential file, bounded. A secret's permissions are
// checked on the file that was opened (not on the path, which could be
// swapped between a check and the open).
func readFile(path, what string, secret bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, codes.Errorf(codes.StateInvalid, err, "%s", what)
	}
	defer f.Close()
	if secret {
		fi, err := f.Stat()
		if err != nil {
			return nil, codes.Errorf(codes.StateInvalid, err, "%s", what)
		}
		if err := fileperm.Secret(fi, path, what); err != nil {
			return nil, codes.Errorf(codes.StateInvalid, err, "%s", what)
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxAuthFile+1))
	if err != nil {
		return nil, codes.Errorf(codes.StateInvalid, err, "%s %s", what, path)
	}
	if len(data) > maxAuthFile {
		return nil, codes.Errorf(codes.StateInvalid, nil, "%s %s: larger than %d bytes", what, path, maxAuthFile)
	}
	return data, nil
}

// parseToken accepts one line of visible ASCII (a bearer token), with
// surrounding white space.
func parseToken(data []byte) (string, error) {
	tok := string(bytes.TrimSpace(data))
	if tok == "" {
		return "", fmt.Errorf("holds no token")
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] <= ' ' || tok[i] > '~' {
			return "", fmt.Errorf("the token must be one word of visible ASCII characters")
		}
	}
	return tok, nil
}

// refusedHeaders are the headers a header file may not set: they frame
// the request or the connection, which net/http manages.
var refusedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Range": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Keep-Alive": true, "Proxy-Connection": true,
}

// ParseHeaders parses a header file: lines "Name: value"; blank lines
// and lines starting with '#' are skipped. Errors name the line number,
// never its content (it may hold a secret).
func ParseHeaders(data []byte) (http.Header, error) {
	h := http.Header{}
	n := 0
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !validHeaderName(name) {
			return nil, fmt.Errorf("line %d: want \"Name: value\" with a valid header name", i+1)
		}
		value = strings.Trim(value, " \t")
		for _, c := range []byte(value) {
			if c < ' ' && c != '\t' || c == 0x7f {
				return nil, fmt.Errorf("line %d: the value holds a control character", i+1)
			}
		}
		if value == "" {
			return nil, fmt.Errorf("line %d: empty value", i+1)
		}
		name = http.CanonicalHeaderKey(name)
		if refusedHeaders[name] {
			return nil, fmt.Errorf("line %d: %s cannot be set", i+1, name)
		}
		if n++; n > maxHeaders {
			return nil, fmt.Errorf("more than %d headers", maxHeaders)
		}
		h.Add(name, value)
	}
	if n == 0 {
		return nil, fmt.Errorf("holds no header")
	}
	return h, nil
}

// validHeaderName: an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// authTransport adds the credentials to the requests to the repository's
// origin, and turns a 401 answer into a final error.
type authTransport struct {
	next http.RoundTripper
	a    *Auth
}

func (t authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.a != nil && len(t.a.Header) > 0 && origin(req.URL) == t.a.Origin {
		req = req.Clone(req.Context())
		for k, vs := range t.a.Header {
			req.Header[k] = vs
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		resp.Body.Close()
		return nil, &policyError{fmt.Sprintf("authentication failed: HTTP 401 from %s (see --auth-token-file, --auth-header-file and --client-cert in docs/client.md)", req.URL.Redacted())}
	}
	return resp, err
}

// Configure builds the device's HTTP client: hc (nil: NewHTTPClient)
// trusting roots (nil: the system's or hc's own), presenting a's client
// certificate, adding a's headers and obeying p.
func Configure(hc *http.Client, roots *x509.CertPool, p *Policy, a *Auth) (*http.Client, error) {
	var certs []tls.Certificate
	if a != nil {
		certs = a.Certs
	}
	if hc == nil {
		hc = &http.Client{Transport: NewTransport(roots, certs...)}
	} else if roots != nil || len(certs) > 0 {
		var err error
		if hc, err = withTLS(hc, roots, certs); err != nil {
			return nil, err
		}
	}
	out := *hc
	next := out.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = authTransport{next: next, a: a}
	return WithPolicy(&out, p), nil
}
