package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/server"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// envelope is a key envelope's name (modelcrypt.EnvelopeName).
var envelope = strings.Repeat("e", 64) + ".age"

func TestHandler(t *testing.T) {
	t.Parallel()
	r := testrepo.New(t)
	for _, v := range []string{"1.0.0", "2.0.0"} {
		r.Publish(t, "det", v, map[string][]byte{"model.onnx": []byte(strings.Repeat("weights "+v+" ", 1000))}, targets.Compat{})
	}
	fs, dir := afero.NewOsFs(), r.Dir
	// Things that must never be served.
	for name, data := range map[string]string{
		"metadata/.tmp-123":                         "partial",
		"targets/models/det/1.0.0/.tmp-9":           "partial",
		"metadata/.hidden":                          "x",
		"targets/.well-known/x":                     "x",
		"metadata/root.json":                        `{"unversioned":true}`,
		"targets/README":                            "readme",
		"keys/targets.key":                          "secret",
		"metadata/sub/.git/config":                  "x",
		"targets/models/det/1.0.0/model.onnx":       "non-consistent name",
		"targets/models/det/1.0.0/keys/" + envelope: "age-encryption.org/v1\nenvelope",
		"targets/models/det/1.0.0/keys/.tmp-7":      "partial envelope",
	} {
		fs.MkdirAll(filepath.Dir(filepath.Join(dir, filepath.FromSlash(name))), 0o755)
		afero.WriteFile(fs, filepath.Join(dir, filepath.FromSlash(name)), []byte(data), 0o644)
	}
	h := server.Handler(fs, dir)
	srv := httptest.NewServer(h)
	defer srv.Close()

	modelPath := r.TargetFile(t, "models/det/1.0.0/model.onnx")
	model := readAll(t, fs, modelPath)
	rel, _ := filepath.Rel(dir, modelPath)
	modelURL := "/" + filepath.ToSlash(rel)
	sum := sha256.Sum256(model)
	modelSHA := hex.EncodeToString(sum[:])
	ts := readAll(t, fs, filepath.Join(dir, repofiles.MetadataDir, "timestamp.json"))

	for _, c := range []struct {
		name, method, path string
		header             map[string]string
		status             int
		cache, ctype, etag string
		body               string // exact, when set
		wantHeader         map[string]string
	}{
		{name: "timestamp never cached", path: "/metadata/timestamp.json", status: 200, cache: "no-store", ctype: "application/json", body: string(ts)},
		{name: "root immutable", path: "/metadata/1.root.json", status: 200, cache: "public, max-age=31536000, immutable", ctype: "application/json", body: string(r.Root)},
		{name: "versioned snapshot immutable", path: "/metadata/3.snapshot.json", status: 200, cache: "public, max-age=31536000, immutable", ctype: "application/json"},
		{name: "versioned targets immutable", path: "/metadata/2.targets.json", status: 200, cache: "public, max-age=31536000, immutable"},
		{name: "unversioned metadata revalidated", path: "/metadata/root.json", status: 200, cache: "no-cache", ctype: "application/json"},
		{name: "hash-named target immutable with ETag", path: modelURL, status: 200, cache: "public, max-age=31536000, immutable",
			ctype: "application/octet-stream", etag: `"` + modelSHA + `"`, body: string(model)},
		{name: "other target file revalidated", path: "/targets/README", status: 200, cache: "no-cache", body: "readme"},
		{name: "key envelope revalidated, no hash ETag", path: "/targets/models/det/1.0.0/keys/" + envelope, status: 200, cache: "no-cache",
			ctype: "application/octet-stream", body: "age-encryption.org/v1\nenvelope", wantHeader: map[string]string{"ETag": ""}},
		{name: "temporary envelope", path: "/targets/models/det/1.0.0/keys/.tmp-7", status: 404},
		{name: "envelope directory", path: "/targets/models/det/1.0.0/keys", status: 404},
		{name: "range", path: modelURL, header: map[string]string{"Range": "bytes=10-19"}, status: 206, body: string(model[10:20]),
			wantHeader: map[string]string{"Content-Range": fmt.Sprintf("bytes 10-19/%d", len(model))}},
		{name: "open range resumes", path: modelURL, header: map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(model)-5)}, status: 206, body: string(model[len(model)-5:])},
		{name: "suffix range", path: modelURL, header: map[string]string{"Range": "bytes=-3"}, status: 206, body: string(model[len(model)-3:])},
		{name: "range past the end", path: modelURL, header: map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(model)+10)}, status: 416},
		{name: "conditional with ETag", path: modelURL, header: map[string]string{"If-None-Match": `"` + modelSHA + `"`}, status: 304},
		{name: "HEAD", method: "HEAD", path: modelURL, status: 200, body: "", wantHeader: map[string]string{"Content-Length": fmt.Sprint(len(model))}},
		{name: "POST refused", method: "POST", path: "/metadata/timestamp.json", status: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "PUT refused", method: "PUT", path: modelURL, status: 405},
		{name: "DELETE refused", method: "DELETE", path: modelURL, status: 405},

		{name: "root path", path: "/", status: 404},
		{name: "config", path: "/mrepo.json", status: 404},
		{name: "lock file", path: "/.mrepo.lock", status: 404},
		{name: "key outside the trees", path: "/keys/targets.key", status: 404},
		{name: "temporary metadata", path: "/metadata/.tmp-123", status: 404},
		{name: "temporary target", path: "/targets/models/det/1.0.0/.tmp-9", status: 404},
		{name: "hidden file", path: "/metadata/.hidden", status: 404},
		{name: "hidden directory", path: "/targets/.well-known/x", status: 404},
		{name: "file in a hidden directory", path: "/metadata/sub/.git/config", status: 404},
		{name: "metadata directory", path: "/metadata/", status: 404},
		{name: "metadata directory without slash", path: "/metadata", status: 404},
		{name: "model directory", path: "/targets/models/det", status: 404},
		{name: "missing metadata", path: "/metadata/4.root.json", status: 404},
		{name: "missing target", path: "/targets/models/det/9.9.9/x", status: 404},
		{name: "other tree", path: "/other/x", status: 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = "GET"
			}
			req, _ := http.NewRequest(method, srv.URL+c.path, nil)
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d (body %.80q)", resp.StatusCode, c.status, body)
			}
			if resp.StatusCode == 404 && strings.Contains(string(body), "secret") {
				t.Error("404 body leaks content")
			}
			for k, want := range map[string]string{"Cache-Control": c.cache, "Content-Type": c.ctype, "ETag": c.etag} {
				if want != "" && resp.Header.Get(k) != want {
					t.Errorf("%s = %q, want %q", k, resp.Header.Get(k), want)
				}
			}
			for k, want := range c.wantHeader {
				if resp.Header.Get(k) != want {
					t.Errorf("%s = %q, want %q", k, resp.Header.Get(k), want)
				}
			}
			if c.body != "" || method == "HEAD" {
				if string(body) != c.body {
					t.Errorf("body %d bytes %.40q, want %d bytes", len(body), body, len(c.body))
				}
			}
		})
	}

	// Paths a client would normalise before sending: dot segments,
	// doubled slashes, trailing slashes. The handler refuses them itself.
	for _, p := range []string{
		"/metadata/../mrepo.json",
		"/metadata/../keys/targets.key",
		"/targets/../metadata/timestamp.json",
		"/metadata/./timestamp.json",
		"/metadata//timestamp.json",
		"/metadata/timestamp.json/",
		"/targets/models/det/1.0.0/../../../../mrepo.json",
		"//metadata/timestamp.json",
		"/metadata/%2e%2e/mrepo.json",
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "http://repo.test"+p, nil)
		h.ServeHTTP(rec, req)
		if rec.Code != 404 {
			t.Errorf("%s: status %d, want 404 (body %.60q)", p, rec.Code, rec.Body.String())
		}
	}
}

// readAll is afero.ReadFile that fails the test.
func readAll(t testing.TB, fs afero.Fs, name string) []byte {
	t.Helper()
	data, err := afero.ReadFile(fs, name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
