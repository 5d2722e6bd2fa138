package backendtest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestVersityGW: the server starts on 127.0.0.1, answers as versitygw,
// refuses unsigned requests, and hands out distinct buckets with URLs that
// reach it.
func TestVersityGW(t *testing.T) {
	s := VersityGW(t)
	u, err := url.Parse(s.Endpoint)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("endpoint %q is not on 127.0.0.1", s.Endpoint)
	}
	a, b := s.NewBucket(t), s.NewBucket(t)
	if a == b {
		t.Fatalf("two buckets with one URL %s", a)
	}
	for _, bucket := range []string{a, b} {
		bu, err := url.Parse(bucket)
		if err != nil || bu.Scheme != "s3" || bu.Query().Get("endpoint") != s.Endpoint || bu.Query().Get("use_path_style") != "true" {
			t.Fatalf("bucket URL %s", bucket)
		}
		resp, err := http.Get(s.Endpoint + "/" + bu.Host + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("unsigned GET of an object in %s: %s, want 403", bu.Host, resp.Status)
		}
	}
	if env := strings.Join(s.Env(), " "); !strings.Contains(env, "AWS_ACCESS_KEY_ID="+TestAccessKey) || !strings.Contains(env, "AWS_SECRET_ACCESS_KEY="+TestSecretKey) {
		t.Errorf("Env lacks the test credentials: %s", env)
	}
	s.UseInProcess(t)
}
