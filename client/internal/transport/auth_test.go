package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/edgetuf/edgetuf/internal/fileperm"
	"github.com/edgetuf/edgetuf/internal/testcert"
)

const testToken = "test-only-token-7f3a" // not a real secret

func writeFile(t *testing.T, name, data string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseHeaders(t *testing.T) {
	t.Parallel()
	h, err := ParseHeaders([]byte("# comment\n\nx-api-key:  abc def \r\nX-Tenant: t1\nx-api-key: second\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Values("X-Api-Key"); len(got) != 2 || got[0] != "abc def" || got[1] != "second" || h.Get("X-Tenant") != "t1" {
		t.Fatalf("headers %v", h)
	}
	for _, bad := range []string{"", "# only a comment\n", "no colon here", "bad name: v", ": v", "X-A:", "X-A: a\x01b",
		"Host: evil.example", "content-length: 5", "Range: bytes=0-", "X-A: a\x7f"} {
		if _, err := ParseHeaders([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "evil") || strings.Contains(err.Error(), "bytes=") {
			t.Errorf("%q: the error quotes the file: %v", bad, err)
		}
	}
	if _, err := ParseHeaders([]byte(strings.Repeat("X-A: b\n", maxHeaders+1))); err == nil {
		t.Error("too many headers accepted")
	}
}

func FuzzParseHeaders(f *testing.F) {
	for _, s := range []string{"Authorization: Bearer x\n", "X-Api-Key: k\r\nX-B: c\n", "# c\n\nA: b", "Host: x", "a:b:c", "A: \tb\t"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeaders(data)
		if err != nil {
			if h != nil {
				t.Fatal("headers with an error")
			}
			return
		}
		n := 0
		for name, vs := range h {
			if !validHeaderName(name) || refusedHeaders[name] || name != http.CanonicalHeaderKey(name) {
				t.Fatalf("header name %q accepted", name)
			}
			for _, v := range vs {
				n++
				if v == "" || strings.ContainsAny(v, "\r\n\x00") || strings.TrimSpace(v) != v {
					t.Fatalf("value %q accepted", v)
				}
			}
		}
		if n == 0 || n > maxHeaders {
			t.Fatalf("%d headers", n)
		}
	})
}

func TestLoadAuthRefusesLooseFiles(t *testing.T) {
	t.Parallel()
	for _, f := range []AuthFiles{
		{TokenFile: writeFile(t, "token", testToken, 0o644)},
		{HeaderFile: writeFile(t, "headers", "X-Api-Key: "+testToken, 0o640)},
		{ClientCert: writeFile(t, "c.pem", "x", 0o644), ClientKey: writeFile(t, "k.pem", "x", 0o604)},
	} {
		_, err := LoadAuth("https://repo.example", f)
		if !errors.Is(err, fileperm.ErrInsecure) {
			t.Errorf("%+v: %v, want ErrInsecure", f, err)
		}
	}
	for _, f := range []AuthFiles{
		{TokenFile: writeFile(t, "token", "two words", 0o600)},
		{TokenFile: writeFile(t, "token", "\n", 0o600)},
		{TokenFile: filepath.Join(t.TempDir(), "missing")},
		{ClientCert: writeFile(t, "c.pem", "x", 0o600)},
		{TokenFile: writeFile(t, "token", testToken, 0o600), HeaderFile: writeFile(t, "h", "Authorization: Basic x", 0o600)},
	} {
		if _, err := LoadAuth("https://repo.example", f); err == nil {
			t.Errorf("%+v accepted", f)
		} else if strings.Contains(err.Error(), "words") || strings.Contains(err.Error(), "Basic") {
			t.Errorf("the error quotes a secret: %v", err)
		}
	}
}

// TestAuthHeadersToOriginOnly: the token goes to the repository's origin
// and never to the host a redirect leads to, even an allowed one; a 401
// is a final error that says authentication failed.
func TestAuthHeadersToOriginOnly(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]string{}
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen["cdn"+r.URL.Path] = r.Header.Get("Authorization") + r.Header.Get("X-Api-Key")
		mu.Unlock()
		io.WriteString(w, "payload")
	}))
	defer cdn.Close()
	repo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen["repo"+r.URL.Path] = r.Header.Get("Authorization") + " " + r.Header.Get("X-Api-Key")
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, cdn.URL+"/file", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			io.WriteString(w, "ok")
		}
	}))
	defer repo.Close()
	a, err := LoadAuth(repo.URL, AuthFiles{TokenFile: writeFile(t, "token", testToken+"\n", 0o600), HeaderFile: writeFile(t, "h", "X-Api-Key: k1\n", 0o600)})
	if err != nil {
		t.Fatal(err)
	}
	cdnHost := strings.TrimPrefix(cdn.URL, "http://")
	entry, _ := ParseHostEntry(cdnHost)
	hc, err := Configure(nil, nil, &Policy{Allow: []HostEntry{entry}}, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/away", "/here"} {
		resp, err := hc.Get(repo.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	want := "Bearer " + testToken + " k1"
	if seen["repo/away"] != want || seen["repo/here"] != want || seen["repo/ok"] != want {
		t.Errorf("the repository got %v", seen)
	}
	if v, ok := seen["cdn/file"]; !ok || v != "" {
		t.Errorf("the redirect target got credentials %q (requested: %v)", v, ok)
	}
	mu.Unlock()

	// Without the token: a final error that says so, never the token.
	plain, err := Configure(nil, nil, &Policy{}, &Auth{Origin: a.Origin})
	if err != nil {
		t.Fatal(err)
	}
	_, err = plain.Get(repo.URL + "/ok")
	if err == nil || !strings.Contains(err.Error(), "authentication failed: HTTP 401") || !FinalNetErr(err) {
		t.Errorf("without the token: %v", err)
	}
}

// TestClientCertificate: a server that requires a client certificate
// from its CA accepts the configured one, and refuses a device without it
// or with one from another CA.
func TestClientCertificate(t *testing.T) {
	t.Parallel()
	serverCA, err := testcert.NewCA("server CA")
	if err != nil {
		t.Fatal(err)
	}
	clientCA, err := testcert.NewCA("client CA")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := testcert.NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	if srv.TLS, err = serverCA.TLSConfig("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.Cert)
	srv.TLS.ClientCAs, srv.TLS.ClientAuth = pool, tls.RequireAndVerifyClientCert
	srv.StartTLS()
	defer srv.Close()
	roots, err := ParseCABundle(serverCA.PEM)
	if err != nil {
		t.Fatal(err)
	}
	get := func(ca *testcert.CA, own bool) error {
		files := AuthFiles{}
		if ca != nil {
			cert, key, err := ca.Client("device-1")
			if err != nil {
				t.Fatal(err)
			}
			files = AuthFiles{ClientCert: writeFile(t, "c.pem", string(cert), 0o644), ClientKey: writeFile(t, "k.pem", string(key), 0o600)}
		}
		a, err := LoadAuth(srv.URL, files)
		if err != nil {
			t.Fatal(err)
		}
		var hc *http.Client
		if own { // a caller's client: the certificate is applied to a copy of its transport
			hc = &http.Client{Transport: &http.Transport{}}
		}
		if hc, err = Configure(hc, roots, &Policy{}, a); err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Get(srv.URL + "/x")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "ok" {
			t.Fatalf("body %q", b)
		}
		return nil
	}
	for _, own := range []bool{false, true} {
		if err := get(clientCA, own); err != nil {
			t.Errorf("with the client certificate (own client %v): %v", own, err)
		}
		if err := get(nil, own); err == nil {
			t.Errorf("without a client certificate (own client %v): accepted", own)
		}
		if err := get(otherCA, own); err == nil {
			t.Errorf("with a certificate from another CA (own client %v): accepted", own)
		}
	}
}
