package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/edgetuf/edgetuf/internal/scripttest"
	"github.com/edgetuf/edgetuf/internal/testcert"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["authserve"] = cmdAuthserve
	scriptCmds["mkclientcert"] = cmdMkclientcert
}

// authserve VAR DIR [token=TOKEN] [header=NAME:VALUE] [tls=CERT,KEY] [clientca=CAFILE]
//
// Serves the repository DIR (its metadata/ and targets/) on 127.0.0.1,
// as an authenticated CDN or private bucket would: every request must
// carry "Authorization: Bearer TOKEN" and the header NAME: VALUE when
// given (HTTP 401 otherwise), over HTTPS with the server certificate CERT
// when given, and with a client certificate issued by the CA in CAFILE
// when given (the TLS handshake fails otherwise). Sets VAR to HOST:PORT.
// The server stops at the end of the script.
func cmdAuthserve(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "authserve")
	if len(args) < 2 {
		ts.Fatalf("usage: authserve VAR DIR [token=TOKEN] [header=NAME:VALUE] [tls=CERT,KEY] [clientca=CAFILE]")
	}
	want := http.Header{}
	var tlsCfg *tls.Config
	for _, opt := range args[2:] {
		k, v, _ := strings.Cut(opt, "=")
		switch k {
		case "token":
			want.Set("Authorization", "Bearer "+v)
		case "header":
			name, value, ok := strings.Cut(v, ":")
			if !ok {
				ts.Fatalf("authserve: header=NAME:VALUE")
			}
			want.Set(name, value)
		case "tls":
			cert, key, _ := strings.Cut(v, ",")
			pair, err := tls.LoadX509KeyPair(ts.MkAbs(cert), ts.MkAbs(key))
			ts.Check(err)
			tlsCfg = &tls.Config{Certificates: []tls.Certificate{pair}}
		case "clientca":
			if tlsCfg == nil {
				ts.Fatalf("authserve: clientca needs tls first")
			}
			data, err := os.ReadFile(ts.MkAbs(v))
			ts.Check(err)
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(data) {
				ts.Fatalf("authserve: no certificate in %s", v)
			}
			tlsCfg.ClientCAs, tlsCfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
		default:
			ts.Fatalf("authserve: unknown option %q", opt)
		}
	}
	files := http.FileServer(http.Dir(ts.MkAbs(args[1])))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for name := range want {
				if r.Header.Get(name) != want.Get(name) {
					http.Error(w, "unauthorized", http.StatusUnauthorized)
					return
				}
			}
			files.ServeHTTP(w, r)
		}),
		ErrorLog: log.New(io.Discard, "", 0), // refused handshakes are expected
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	go srv.Serve(ln)
	ts.Defer(func() { srv.Close() })
	ts.Setenv(args[0], ln.Addr().String())
}

// mkclientcert CAFILE CERTFILE KEYFILE
//
// Makes a throwaway CA, writes its certificate to CAFILE, and a client
// certificate it issued to CERTFILE with its key in KEYFILE (mode 0600).
func cmdMkclientcert(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "mkclientcert")
	if len(args) != 3 {
		ts.Fatalf("usage: mkclientcert CAFILE CERTFILE KEYFILE")
	}
	ca, err := testcert.NewCA("script client CA")
	ts.Check(err)
	cert, key, err := ca.Client("device-1")
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), ca.PEM, 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), cert, 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), key, 0o600))
}
