package client

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseCABundle: a CA bundle (init's --ca-file, the state
// directory's ca.pem) is accepted only as PEM certificates, and never
// panics the parser.
func FuzzParseCABundle(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("not pem"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		pool, err := parseCABundle(data)
		if (err == nil) != (pool != nil) {
			t.Fatalf("pool %v, error %v", pool, err)
		}
		if err == nil && !strings.Contains(string(data), "-----BEGIN CERTIFICATE-----") {
			t.Fatalf("accepted a bundle without a certificate block")
		}
	})
}

// FuzzRedirectPolicy: whatever Location a server sends and whatever host
// is allowed, a redirect is followed only to the origin of the first
// request or to an allowed host, never from https to http, never to
// another scheme.
func FuzzRedirectPolicy(f *testing.F) {
	f.Add("https://repo.example.com/metadata/timestamp.json", "https://cdn.example.com/x", "cdn.example.com", false)
	f.Add("https://repo.example.com/a", "http://repo.example.com/a", "", false)
	f.Add("http://127.0.0.1:8080/a", "http://127.0.0.1:9090/a", "127.0.0.1:9090", true)
	f.Add("https://repo.example.com/a", "https://REPO.example.com:443/b", "", false)
	f.Add("https://[::1]:8443/a", "https://[::1]:8443/b", "[::1]:8443", false)
	f.Fuzz(func(t *testing.T, first, location, allow string, requireHTTPS bool) {
		from, err := url.Parse(first)
		if err != nil || (from.Scheme != "http" && from.Scheme != "https") || from.Host == "" {
			return
		}
		to, err := from.Parse(location)
		if err != nil {
			return
		}
		p := &netPolicy{requireHTTPS: requireHTTPS}
		if e, err := parseHostEntry(allow); err == nil {
			p.allow = append(p.allow, e)
		}
		via := []*http.Request{{URL: from}}
		if p.checkRedirect(&http.Request{URL: to}, via) != nil {
			return
		}
		switch {
		case to.Scheme != "http" && to.Scheme != "https":
			t.Fatalf("followed %s", to)
		case to.Scheme == "http" && (from.Scheme == "https" || requireHTTPS):
			t.Fatalf("followed %s -> %s (HTTPS required: %v)", from, to, requireHTTPS)
		case origin(to) != origin(from) && !p.allowed(to):
			t.Fatalf("followed %s -> %s, allowed %q", from, to, allow)
		}
	})
}
