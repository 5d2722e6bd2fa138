package client_test

// Shared fixtures for the client's end-to-end tests: a repository built
// with mrepo's code (internal/testrepo), served on 127.0.0.1 through a
// handler that can be swapped (to replay an old repository or serve a
// forged one at the same URL) and that logs every request, and a device
// state directory.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	staticserver "github.com/edgetuf/edgetuf/server"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

const model = "det"

// newRepo returns a fresh, empty repository: a copy of testrepo's
// template, made once per test process, with its keys.
func newRepo(t testing.TB) *testrepo.Repo {
	t.Helper()
	return testrepo.New(t)
}

// payload returns n deterministic pseudo-random bytes: two payloads with
// different seeds differ everywhere, so one changed byte is a real change.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// bundle is the payload of one test version: model.bin of size n and a
// small labels.txt (labels), both of their own in each version, so that
// no file is copied from an installed version (local_test.go tests that).
func bundle(seed uint64, n int) map[string][]byte {
	return map[string][]byte{"model.bin": payload(seed, n), "labels.txt": labels(seed)}
}

// labels is an 8-byte labels.txt of its own for each seed.
func labels(seed uint64) []byte { return fmt.Appendf(nil, "%07x\n", seed&0xfffffff) }

// fastOpts keeps the pauses between retries short for tests. The stall
// timeout is long enough never to cut a genuine transfer on a loaded
// machine: tests of stalls fire it themselves (client.UseManualTimers).
func fastOpts() client.Options {
	return client.Options{RetryBackoff: 10 * time.Millisecond, StallTimeout: 10 * time.Minute}
}

// waitFor waits until cond holds: for something another goroutine or
// process does, never for time to pass. It gives up after a minute, which
// only a broken test reaches.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// reqInfo is one request the server saw.
type reqInfo struct {
	Path  string
	Range string
}

// server serves a repository through a swappable handler and logs requests.
type server struct {
	URL  string
	mu   sync.Mutex
	h    http.Handler
	reqs []reqInfo
}

func newServer(t testing.TB, h http.Handler) *server {
	t.Helper()
	s := &server{h: h}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, reqInfo{Path: req.URL.Path, Range: req.Header.Get("Range")})
		h := s.h
		s.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// serveRepo serves r's directory.
func serveRepo(t testing.TB, r *testrepo.Repo) *server { return newServer(t, dirHandler(r.Dir)) }

// dirHandler serves any repository directory (a forged or replayed copy).
func dirHandler(dir string) http.Handler { return staticserver.Handler(afero.NewOsFs(), dir) }

// set swaps the handler.
func (s *server) set(h http.Handler) {
	s.mu.Lock()
	s.h = h
	s.mu.Unlock()
}

// requests returns the requests logged since the last reset whose path
// starts with prefix.
func (s *server) requests(prefix string) []reqInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []reqInfo
	for _, r := range s.reqs {
		if strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func (s *server) reset() {
	s.mu.Lock()
	s.reqs = nil
	s.mu.Unlock()
}

// device is a state directory and a client on it.
type device struct {
	t   testing.TB
	dir string
	c   *client.Client
	r   *testrepo.Repo // the genuine repository, to check installed files against
	// honourBackoff: update leaves UpdateRequest.Force alone. Otherwise it
	// forces every run, so that tests that fail a run and try again at
	// once are not refused by the backoff across runs (backoff_test.go
	// tests that).
	honourBackoff bool
}

func newDevice(t testing.TB, r *testrepo.Repo, repoURL string, opts client.Options) *device {
	t.Helper()
	return newDeviceInit(t, r, client.InitOptions{RepoURL: repoURL}, opts)
}

func newDeviceInit(t testing.TB, r *testrepo.Repo, iopts client.InitOptions, opts client.Options) *device {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	if err := client.Init(dir, r.Root, iopts); err != nil {
		t.Fatalf("init: %v", err)
	}
	c, err := client.Open(dir, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return &device{t: t, dir: dir, c: c, r: r}
}

// reopen replaces the client (new options, same state directory).
func (d *device) reopen(opts client.Options) {
	d.t.Helper()
	c, err := client.Open(d.dir, opts)
	if err != nil {
		d.t.Fatalf("open: %v", err)
	}
	d.c = c
}

func (d *device) update(req client.UpdateRequest) (*client.Result, error) {
	d.t.Helper()
	if req.ModelID == "" {
		req.ModelID = model
	}
	if !d.honourBackoff {
		req.Force = true
	}
	// No deadline: a loaded machine only makes an update slower, and a
	// test that hangs is ended by go test's own timeout.
	res, err := d.c.Update(context.Background(), req)
	if res == nil {
		d.t.Fatalf("Update returned a nil result (err %v)", err)
	}
	return res, err
}

// mustUpdate updates and requires the given active version afterwards.
func (d *device) mustUpdate(want string) *client.Result {
	d.t.Helper()
	res, err := d.update(client.UpdateRequest{})
	if err != nil {
		d.t.Fatalf("update: %v (%+v)", err, res)
	}
	if res.Version != want {
		d.t.Fatalf("update: active %q, want %q (%+v)", res.Version, want, res)
	}
	return res
}

// wantFail updates and requires failure with code, the active version
// still being active (and the same path), and Result reporting both.
func (d *device) wantFail(code client.Code, active string) *client.Result {
	d.t.Helper()
	res, err := d.update(client.UpdateRequest{})
	if got := client.CodeOf(err); got != code {
		d.t.Fatalf("update: code %q (%v), want %q", got, err, code)
	}
	if res.Code != code || res.Outcome != client.OutcomeFailed {
		d.t.Fatalf("result %+v: want outcome failed with code %s", res, code)
	}
	d.wantActive(active)
	if res.Version != active {
		d.t.Fatalf("result names active %q, want %q", res.Version, active)
	}
	return res
}

func (d *device) status() *client.ModelStatus {
	d.t.Helper()
	st, err := d.c.Status(model)
	if err != nil {
		d.t.Fatalf("status: %v", err)
	}
	return st
}

// wantActive checks the active version, that it is confirmed, that its
// directory holds exactly the files the genuine repository published for
// it, and that Verify (offline, against the trusted metadata) agrees, also
// after whatever the test made the repository do.
func (d *device) wantActive(v string) {
	d.t.Helper()
	st := d.status()
	if st.Version != v {
		d.t.Fatalf("active %q, want %q", st.Version, v)
	}
	if v == "" {
		return
	}
	if st.Trial {
		d.t.Fatalf("%s is still on trial", v)
	}
	d.wantInstalledIntact(v)
	if vs, err := d.c.Verify(model); err != nil || vs.Version != v {
		d.t.Fatalf("verify %s: %v", v, err)
	}
}

// wantInstalledIntact compares an installed version with the genuine
// repository's files, whose names start with their SHA-256.
func (d *device) wantInstalledIntact(v string) {
	d.t.Helper()
	published, _ := filepath.Glob(filepath.Join(d.r.Dir, "targets", "models", model, v, "*"))
	want := map[string]string{}
	for _, p := range published {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			continue // deltas/: patches are not installed
		}
		hash, name, _ := strings.Cut(filepath.Base(p), ".")
		want[name] = hash
	}
	entries, err := os.ReadDir(d.path("models", model, v))
	if err != nil {
		d.t.Fatalf("installed %s: %v", v, err)
	}
	if len(entries) != len(want) || len(want) == 0 {
		d.t.Fatalf("installed %s holds %d files, published %d", v, len(entries), len(want))
	}
	for _, e := range entries {
		data, err := os.ReadFile(d.path("models", model, v, e.Name()))
		if err != nil {
			d.t.Fatal(err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(data)); got != want[e.Name()] {
			d.t.Fatalf("installed %s/%s has SHA-256 %s, published %q", v, e.Name(), got, want[e.Name()])
		}
	}
}

func (d *device) path(elem ...string) string {
	return filepath.Join(append([]string{d.dir}, elem...)...)
}

// events returns the event log.
func (d *device) events() []client.Event {
	d.t.Helper()
	f, err := os.Open(d.path("events.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	var out []client.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e client.Event
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			d.t.Fatalf("event line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func eventNames(es []client.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Event)
	}
	return out
}

// stagedFiles lists what the staging area holds for the model.
func (d *device) stagedFiles() map[string]int64 {
	out := map[string]int64{}
	filepath.Walk(d.path("staging", model), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(d.path("staging", model), p)
			out[rel] = fi.Size()
		}
		return nil
	})
	return out
}

// seedOf derives a payload seed from a version string.
func seedOf(v string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(v))
	return h.Sum64()
}

// publish publishes model versions in order, each with a model.bin of
// size bytes (payload(seedOf(v), size)).
func publish(t testing.TB, r *testrepo.Repo, size int, versions ...string) {
	t.Helper()
	for _, v := range versions {
		r.Publish(t, model, v, bundle(seedOf(v), size), targets.Compat{})
	}
}

// targetURLPath is the URL path a published target is served under.
func targetURLPath(t testing.TB, r *testrepo.Repo, targetPath string) string {
	t.Helper()
	rel, err := filepath.Rel(r.Dir, r.TargetFile(t, targetPath))
	if err != nil {
		t.Fatal(err)
	}
	return "/" + filepath.ToSlash(rel)
}

// copyTree copies a directory tree (a snapshot of a repository).
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		o, err := os.Create(out)
		if err != nil {
			return err
		}
		if _, err := io.Copy(o, in); err != nil {
			o.Close()
			return err
		}
		return o.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// snapshotRepo copies the repository as it is now.
func snapshotRepo(t testing.TB, r *testrepo.Repo) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	copyTree(t, r.Dir, dst)
	return dst
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }
