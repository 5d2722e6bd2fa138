package main

import (
	"bytes"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

// TestUpdateRetries checks that --retries N means N more attempts after a
// failed transfer, 0 included (in client.Options a zero Retries means the
// default, 5, which "--retries 0" must not turn into). A scripted server
// cannot fail this way, so the test runs mclient in-process against a
// server whose targets answer 503.
func TestUpdateRetries(t *testing.T) {
	t.Parallel()
	r := testrepo.New(t)
	r.Publish(t, "det", "1.0.0", map[string][]byte{"model.bin": []byte("detector weights v1.0.0\n")}, targets.Compat{})
	var targetRequests atomic.Int64
	url := r.Serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.HasPrefix(req.URL.Path, "/targets/") {
				targetRequests.Add(1)
				http.Error(w, "overloaded", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, req)
		})
	})
	state := filepath.Join(t.TempDir(), "dev")
	if err := client.Init(state, r.Root, client.InitOptions{RepoURL: url}); err != nil {
		t.Fatal(err)
	}
	for _, retries := range []int{0, 1} {
		targetRequests.Store(0)
		var stdout, stderr bytes.Buffer
		// --force: the second run comes at once, before the backoff the
		// first one scheduled.
		code := run([]string{"mclient", "update", "--state", state, "--model-id", "det", "--retries", strconv.Itoa(retries), "--force"}, &stdout, &stderr)
		if code != 1 {
			t.Fatalf("--retries %d: exit %d, want 1\n%s%s", retries, code, stdout.Bytes(), stderr.Bytes())
		}
		want := regexp.MustCompile(`^mclient: update: NETWORK: http://127\.0\.0\.1:\d+/targets/models/det/1\.0\.0/[0-9a-f]{64}\.manifest\.json: HTTP 503\n$`)
		if !want.Match(stderr.Bytes()) {
			t.Errorf("--retries %d: stderr %q, want %s", retries, stderr.Bytes(), want)
		}
		if n := targetRequests.Load(); n != int64(retries+1) {
			t.Errorf("--retries %d: %d requests for targets, want %d", retries, n, retries+1)
		}
	}
}
