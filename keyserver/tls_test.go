package keyserver

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"testing"

	"github.com/edgetuf/edgetuf/internal/testcert"
	"github.com/edgetuf/edgetuf/modelcrypt"
)

// TestOverTLS: the service behind HTTPServer's limits and a test CA's
// certificate releases a key to a client that trusts the CA; a client
// that does not is refused by TLS.
func TestOverTLS(t *testing.T) {
	f := newFixture(t, nil)
	ca, err := testcert.NewCA("keyserver test CA")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.TLSConfig("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := f.srv.HTTPServer()
	srv.TLSConfig = cfg
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })

	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	f.url = "https://" + ln.Addr().String()
	f.hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c := f.challenge(t, f.cam1, "det", "1.0.0")
	st, env, code := f.post(t, "/v1/key", prove(t, c, f.cam1, f.cam1, "det", "1.0.0"))
	if st != http.StatusOK {
		t.Fatalf("%d %s", st, code)
	}
	if _, err := modelcrypt.OpenEnvelope(env, f.cam1, "det", "1.0.0", f.key.Recipient(), f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Post(f.url+"/v1/challenge", "application/json", nil); err == nil {
		t.Fatal("a client that does not trust the CA got an answer")
	}
}
