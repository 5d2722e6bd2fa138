package scripttest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// httpget [-head] [-range FIRST-LAST] [-cacert FILE] URL [OUTFILE]
//
// Fetches URL (loopback only) and prints the status code and the response
// headers, one "Name: value" per line (sorted, without Date), to stdout;
// the body goes to OUTFILE if given. Redirects are not followed. -head
// sends HEAD instead of GET; -range asks for a byte range; -cacert trusts
// only the CA certificates (PEM) in FILE for https:// URLs.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	NoNeg(ts, neg, "httpget")
	method, rng := http.MethodGet, ""
	var roots *x509.CertPool
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-cacert":
			if len(args) < 2 {
				ts.Fatalf("-cacert needs FILE")
			}
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM([]byte(ts.ReadFile(args[1]))) {
				ts.Fatalf("%s holds no PEM certificate", args[1])
			}
			args = args[2:]
		case "-head":
			method = http.MethodHead
			args = args[1:]
		case "-range":
			if len(args) < 2 {
				ts.Fatalf("-range needs FIRST-LAST")
			}
			rng, args = "bytes="+args[1], args[2:]
		default:
			ts.Fatalf("unknown flag %s", args[0])
		}
	}
	if len(args) != 1 && len(args) != 2 {
		ts.Fatalf("usage: httpget [-head] [-range FIRST-LAST] [-cacert FILE] URL [OUTFILE]")
	}
	req, err := http.NewRequest(method, args[0], nil)
	ts.Check(err)
	if h := req.URL.Hostname(); h != "127.0.0.1" && h != "::1" && h != "localhost" {
		ts.Fatalf("httpget only fetches from loopback, not %s", h)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	client := &http.Client{
		Timeout:       2 * time.Minute, // only a hung server reaches it
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
	}
	resp, err := client.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	ts.Check(err)
	w := ts.Stdout()
	fmt.Fprintf(w, "status %d\n", resp.StatusCode)
	var names []string
	for k := range resp.Header {
		if k != "Date" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "%s: %s\n", k, strings.Join(resp.Header.Values(k), ", "))
	}
	if len(args) == 2 {
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), body, 0o644))
	}
}
