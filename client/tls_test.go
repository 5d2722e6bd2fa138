package client_test

// HTTPS: an update over TLS with the device's own CA bundle, and the
// failures a device must report clearly (NETWORK, with the reason): an
// untrusted certificate, a certificate for another host.

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testcert"
)

func newCA(t testing.TB) *testcert.CA {
	t.Helper()
	ca, err := testcert.NewCA("edgetuf test CA")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// tlsServer is server over HTTPS, counting connections.
type tlsServer struct {
	*server
	conns atomic.Int64
}

// serveTLS serves h over HTTPS on 127.0.0.1 with a certificate from ca.
func serveTLS(t testing.TB, ca *testcert.CA, h http.Handler) *tlsServer {
	t.Helper()
	return serveTLSFor(t, ca, h, "127.0.0.1")
}

func serveTLSFor(t testing.TB, ca *testcert.CA, h http.Handler, hosts ...string) *tlsServer {
	t.Helper()
	cfg, err := ca.TLSConfig(hosts...)
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{server: &server{h: h}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, reqInfo{Path: req.URL.Path, Range: req.Header.Get("Range")})
		h := s.h
		s.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	srv.TLS = cfg
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	srv.Config.ErrorLog = quietLog() // failed handshakes are what some tests do
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// TestUpdateOverTLS: a device initialised with the repository's CA
// bundle and --require-https installs over HTTPS, and verifies offline.
func TestUpdateOverTLS(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, smallSize, "1.0.0")
	ca := newCA(t)
	srv := serveTLS(t, ca, dirHandler(r.Dir))
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("server at %s", srv.URL)
	}
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, CABundle: ca.PEM, RequireHTTPS: true}, fastOpts())
	d.mustUpdate("1.0.0")
	d.wantActive("1.0.0")
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
	cfg := d.c.Config()
	if cfg.CAFile != "ca.pem" || !cfg.RequireHTTPS {
		t.Fatalf("config %+v", cfg)
	}
	if data, err := os.ReadFile(d.path("ca.pem")); err != nil || string(data) != string(ca.PEM) {
		t.Fatalf("stored CA bundle: %v", err)
	}

	// A caller's own HTTP client trusts the device's CA bundle too, and
	// only it; one whose transport cannot be given the bundle is refused.
	publish(t, r, smallSize, "1.2.0")
	opts := fastOpts()
	opts.HTTPClient = &http.Client{Transport: &http.Transport{}}
	d.reopen(opts)
	d.mustUpdate("1.2.0")
	other := serveTLS(t, newCA(t), dirHandler(r.Dir))
	d2 := newDeviceInit(t, r, client.InitOptions{RepoURL: other.URL, CABundle: ca.PEM}, opts)
	if res, err := d2.update(client.UpdateRequest{}); client.CodeOf(err) != client.Network || !strings.Contains(res.Message, "unknown authority") {
		t.Fatalf("a caller's client trusted a server outside the CA bundle: %v", err)
	}
	opts.HTTPClient = &http.Client{Transport: fakeTransport{}}
	if _, err := client.Open(d.dir, opts); client.CodeOf(err) != client.StateInvalid {
		t.Fatalf("open with a transport that cannot take the CA bundle: %v", err)
	}
}

type fakeTransport struct{}

func (fakeTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, io.EOF }

// TestTLSFailures: certificates a device must refuse, each at once (a
// new attempt cannot change the answer) with NETWORK and a reason that
// says what is wrong.
func TestTLSFailures(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, smallSize, "1.0.0")
	ca, other := newCA(t), newCA(t)
	for _, tc := range []struct {
		name   string
		srv    *tlsServer
		bundle []byte
		why    string
	}{
		{"system roots", serveTLS(t, ca, dirHandler(r.Dir)), nil, "certificate signed by unknown authority"},
		{"another CA", serveTLS(t, ca, dirHandler(r.Dir)), other.PEM, "certificate signed by unknown authority"},
		{"another host", serveTLSFor(t, ca, dirHandler(r.Dir), "models.example.com"), ca.PEM, "certificate for 127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := fastOpts()
			opts.Retries = 3
			d := newDeviceInit(t, r, client.InitOptions{RepoURL: tc.srv.URL, CABundle: tc.bundle}, opts)
			res := d.wantFail(client.Network, "")
			if !strings.Contains(res.Message, tc.why) {
				t.Fatalf("reason %q, want %q", res.Message, tc.why)
			}
			if n := tc.srv.conns.Load(); n != 1 {
				t.Fatalf("%d connections: a certificate failure must not be retried", n)
			}
			if n := len(tc.srv.requests("/")); n != 0 {
				t.Fatalf("%d requests sent over an untrusted connection", n)
			}
		})
	}
}

// TestNetworkConfig: what Init and Open accept and refuse.
func TestNetworkConfig(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	ca := newCA(t)
	init := func(opts client.InitOptions) error {
		return client.Init(filepath.Join(t.TempDir(), "state"), r.Root, opts)
	}
	for _, tc := range []struct {
		name string
		opts client.InitOptions
	}{
		{"HTTPS required, http URL", client.InitOptions{RepoURL: "http://models.example.com", RequireHTTPS: true}},
		{"a CA bundle that is not PEM", client.InitOptions{RepoURL: "https://models.example.com", CABundle: []byte("not a certificate")}},
		{"an empty CA bundle", client.InitOptions{RepoURL: "https://models.example.com", CABundle: []byte{}}},
		{"a private key as CA bundle", client.InitOptions{RepoURL: "https://models.example.com", CABundle: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}},
		{"a redirect host with a path", client.InitOptions{RepoURL: "https://models.example.com", AllowRedirectHosts: []string{"cdn.example.com/x"}}},
		{"a redirect host with a scheme", client.InitOptions{RepoURL: "https://models.example.com", AllowRedirectHosts: []string{"https://cdn.example.com"}}},
		{"a redirect host with a bad port", client.InitOptions{RepoURL: "https://models.example.com", AllowRedirectHosts: []string{"cdn.example.com:99999"}}},
	} {
		if err := init(tc.opts); client.CodeOf(err) != client.StateInvalid {
			t.Errorf("%s: init %v, want STATE_INVALID", tc.name, err)
		}
	}
	for _, ok := range []client.InitOptions{
		{RepoURL: "file:///media/models", RequireHTTPS: true},
		{RepoURL: "https://models.example.com", AllowRedirectHosts: []string{"cdn.example.com", "10.0.0.7:8443", "[::1]:443", "::1"}},
	} {
		if err := init(ok); err != nil {
			t.Errorf("init %+v: %v", ok, err)
		}
	}

	// A state directory whose CA bundle is gone, or whose client.json was
	// edited to require HTTPS of an http URL, does not open: falling back
	// to the system's roots or to plain HTTP would trust more than
	// configured.
	dir := filepath.Join(t.TempDir(), "state")
	if err := client.Init(dir, r.Root, client.InitOptions{RepoURL: "https://127.0.0.1:1", CABundle: ca.PEM}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "ca.pem"))
	if _, err := client.Open(dir, client.Options{}); client.CodeOf(err) != client.StateInvalid {
		t.Errorf("open without ca.pem: %v", err)
	}
	dir = filepath.Join(t.TempDir(), "state")
	if err := client.Init(dir, r.Root, client.InitOptions{RepoURL: "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "client.json"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(cfg), `"format"`, `"require_https": true, "format"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "client.json"), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Open(dir, client.Options{}); client.CodeOf(err) != client.StateInvalid {
		t.Errorf("open with require_https and an http URL: %v", err)
	}
}

// quietLog is a server error log that discards.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
