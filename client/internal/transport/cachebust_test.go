package transport

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
)

func TestCacheBusted(t *testing.T) {
	t.Parallel()
	a, b := CacheBusted("http://h/metadata/timestamp.json"), CacheBusted("http://h/metadata/timestamp.json")
	if a == b {
		t.Fatalf("two cache-busting URLs are the same: %s", a)
	}
	for _, c := range []struct{ in, query string }{
		{"http://h/metadata/timestamp.json", ""},
		{"http://h/metadata/3.snapshot.json?sig=abc", "abc"},
	} {
		u, err := url.Parse(CacheBusted(c.in))
		if err != nil {
			t.Fatal(err)
		}
		if v := u.Query().Get(CacheBustParam); len(v) != 16 || u.Query().Get("sig") != c.query {
			t.Errorf("%s: busted as %s", c.in, u)
		}
	}
}

func TestVersioned(t *testing.T) {
	t.Parallel()
	p := "http://h/metadata/"
	for u, want := range map[string]bool{
		p + "3.snapshot.json": true, p + "12.bins-0a.json": true, p + "timestamp.json": false,
		p + "snapshot.json": false, p + "x3.targets.json": false, p + ".targets.json": false, "http://other/7.targets.json": true,
	} {
		if got := versioned(p, u); got != want {
			t.Errorf("versioned(%s) = %v", u, got)
		}
	}
}

// TestMetaFetcherRetriesOnce: a download that looks stale (a 404 for a
// versioned name, or bytes Stale refuses) is made once more with a
// cache-busting request; a root's 404 and a fresh download are not.
func TestMetaFetcherRetriesOnce(t *testing.T) {
	t.Parallel()
	const prefix = "http://127.0.0.1/metadata/"
	for _, c := range []struct {
		name, file string
		status     int
		stale      bool
		want       int // requests
	}{
		{"versioned 404", "3.snapshot.json", 404, false, 2},
		{"root 404", "4.root.json", 404, false, 1},
		{"unversioned 404", "timestamp.json", 404, false, 1},
		{"stale bytes", "timestamp.json", 200, true, 2},
		{"fresh bytes", "timestamp.json", 200, false, 1},
		{"server error", "3.targets.json", 500, false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var reqs []*http.Request
			fe := &HTTPFetcher{Client: &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
				reqs = append(reqs, req)
				return &http.Response{StatusCode: c.status, ContentLength: 2, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader([]byte("{}")))}, nil
			})}}
			stales := 0
			mf := &MetaFetcher{Inner: fe, Ctx: context.Background(), Prefix: prefix, Limits: Limits{1 << 10, 1 << 10, 1 << 10, 1 << 10},
				Stale: func(string, []byte) bool { stales++; return c.stale }}
			mf.DownloadFile(prefix+c.file, 0, 0)
			if len(reqs) != c.want {
				t.Fatalf("%d requests, want %d", len(reqs), c.want)
			}
			if h := reqs[0].Header; reqs[0].URL.RawQuery != "" || h.Get("Cache-Control") != "" || h.Get("Pragma") != "" {
				t.Fatalf("first request %s %v", reqs[0].URL, h)
			}
			if c.want == 2 {
				r := reqs[1]
				if r.URL.Query().Get(CacheBustParam) == "" || r.Header.Get("Cache-Control") != "no-cache" || r.Header.Get("Pragma") != "no-cache" {
					t.Fatalf("retry %s %v is not cache-busting", r.URL, r.Header)
				}
			}
			if c.status == 200 && stales != 1 {
				t.Fatalf("Stale asked %d times: the retry's bytes go to go-tuf as they are", stales)
			}
		})
	}
}
