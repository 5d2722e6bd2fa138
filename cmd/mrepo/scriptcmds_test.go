package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/internal/scripttest"
	"github.com/rogpeppe/go-internal/testscript"
)

// The commands below, with the generic ones of internal/scripttest
// (shared with cmd/mclient's scripts), let the scripts in testdata/ do
// what a user (or an attacker) does to a repository by hand: edit JSON,
// flip a byte, copy a tree, fetch over HTTP. Each one fails the script
// with a clear message when used wrongly.
func init() {
	for name, cmd := range map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"filemode": cmdFilemode,
		"httpget":  cmdHTTPGet,
		"jsondel":  cmdJSONDel,
		"jsontime": cmdJSONTime,
	} {
		scriptCmds[name] = cmd
	}
}

// scriptCondition adds conditions for the scripts:
//
//	tty  the test process has a controlling terminal (/dev/tty opens), so
//	     a command without a passphrase source would prompt on it.
func scriptCondition(cond string) (bool, error) {
	switch cond {
	case "tty":
		f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return false, nil
		}
		f.Close()
		return true, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

// filemode PERM FILE...
//
// Checks that each FILE's permission bits are exactly PERM (octal).
func cmdFilemode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: filemode PERM FILE...")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	ts.Check(err)
	for _, f := range args[1:] {
		fi, err := os.Lstat(ts.MkAbs(f))
		ts.Check(err)
		got := fi.Mode().Perm()
		switch {
		case !neg && got != fs.FileMode(want):
			ts.Fatalf("%s has mode %04o, want %04o", f, got, want)
		case neg && got == fs.FileMode(want):
			ts.Fatalf("%s has mode %04o", f, got)
		}
	}
}

// httpget [-head] [-range FIRST-LAST] [-cacert FILE] URL [OUTFILE]
//
// Fetches URL (loopback only) and prints the status code and the response
// headers, one "Name: value" per line (sorted, without Date), to stdout;
// the body goes to OUTFILE if given. Redirects are not followed. -head
// sends HEAD instead of GET; -range asks for a byte range; -cacert trusts
// only the CA certificates (PEM) in FILE for https:// URLs.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "httpget")
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

// jsondel FILE PATH
//
// Deletes the object key or array element at PATH from the JSON file FILE.
func cmdJSONDel(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "jsondel")
	if len(args) != 2 {
		ts.Fatalf("usage: jsondel FILE PATH")
	}
	scripttest.WriteJSON(ts, args[0], scripttest.EditJSON(ts, scripttest.ReadJSON(ts, args[0]), scripttest.SplitJSONPath(ts, args[1]), nil, true))
}

// jsontime FILE PATH MIN MAX
//
// Checks that the RFC 3339 time at PATH in FILE lies between now+MIN and
// now+MAX (durations as mrepo reads them: 90m, 24h, 7d; may be negative).
func cmdJSONTime(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "jsontime")
	if len(args) != 4 {
		ts.Fatalf("usage: jsontime FILE PATH MIN MAX")
	}
	s, ok := scripttest.WalkJSON(ts, scripttest.ReadJSON(ts, args[0]), scripttest.SplitJSONPath(ts, args[1])).(string)
	if !ok {
		ts.Fatalf("%s is not a string", args[1])
	}
	t, err := time.Parse(time.RFC3339, s)
	ts.Check(err)
	dur := func(s string) time.Duration {
		sign := time.Duration(1)
		if rest, ok := strings.CutPrefix(s, "-"); ok {
			s, sign = rest, -1
		}
		d, err := duration.Parse(s)
		ts.Check(err)
		return sign * d
	}
	now := time.Now()
	lo, hi := now.Add(dur(args[2])), now.Add(dur(args[3]))
	if t.Before(lo) || t.After(hi) {
		ts.Fatalf("%s is %s, not between now + %s and now + %s", args[1], s, dur(args[2]), dur(args[3]))
	}
}
