package client_test

// A repository behind a CDN whose caches lag behind it (contract section 7,
// transport's cachebust.go): the device makes a download that looks stale
// once more with a cache-busting request, and fails as before when that
// does not help.

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// lagCDN serves stale for the paths it holds stale copies of, and the
// origin for everything else and for cache-busting requests (unless
// sticky: a cache that ignores them). It counts cache-busting requests by
// path.
type lagCDN struct {
	origin http.Handler
	stale  func(path string) http.Handler // nil: serve the origin
	sticky bool

	mu     sync.Mutex
	busted map[string]int
}

func newLagCDN(origin http.Handler, stale func(path string) http.Handler) *lagCDN {
	return &lagCDN{origin: origin, stale: stale, busted: map[string]int{}}
}

func (c *lagCDN) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	bust := req.URL.Query().Get(transport.CacheBustParam) != "" && req.Header.Get("Cache-Control") == "no-cache" && req.Header.Get("Pragma") == "no-cache"
	if bust {
		c.mu.Lock()
		c.busted[req.URL.Path]++
		c.mu.Unlock()
	}
	if h := c.stale(req.URL.Path); h != nil && (!bust || c.sticky) {
		h.ServeHTTP(w, req)
		return
	}
	c.origin.ServeHTTP(w, req)
}

// bustedCounts returns the cache-busting requests seen, by path.
func (c *lagCDN) bustedCounts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.busted {
		out[k] = v
	}
	return out
}

// wantBusted checks that exactly the given paths were fetched past the
// cache, once each.
func (c *lagCDN) wantBusted(t *testing.T, paths ...string) {
	t.Helper()
	got := c.bustedCounts()
	if len(got) != len(paths) {
		t.Fatalf("cache-busting requests %v, want one each for %v", got, paths)
	}
	for _, p := range paths {
		if got[p] != 1 {
			t.Fatalf("cache-busting requests %v, want one each for %v", got, paths)
		}
	}
}

// at serves h for the given paths only.
func at(h http.Handler, paths ...string) func(string) http.Handler {
	return func(p string) http.Handler {
		if slices.Contains(paths, p) {
			return h
		}
		return nil
	}
}

// lagTimestamp puts in front of srv a CDN that serves the repository in
// dir but the timestamp.json of the copy old.
func lagTimestamp(srv *server, dir, old string) *lagCDN {
	const ts = "/metadata/timestamp.json"
	cdn := newLagCDN(dirHandler(dir), at(copyOf(old, ts), ts))
	srv.set(cdn)
	return cdn
}

// notFound is a cached 404.
var notFound = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) })

// copyOf serves the file at path in a repository copy made earlier.
func copyOf(dir, path string) http.Handler {
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path)))
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(data)
	})
}

// newestMeta is the URL path of the newest version of a role's metadata.
func newestMeta(t *testing.T, dir, role string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "metadata", "*."+role+".json"))
	best, bestV := "", -1
	for _, m := range matches {
		if v, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(m), "."+role+".json")); err == nil && v > bestV {
			best, bestV = m, v
		}
	}
	if best == "" {
		t.Fatalf("no %s metadata in %s", role, dir)
	}
	return "/metadata/" + filepath.Base(best)
}

// TestCDNStaleTimestamp: the CDN serves a timestamp.json older than the
// one the device trusts; the update succeeds after one cache-busting
// request for it, and no other file is fetched past the cache.
func TestCDNStaleTimestamp(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	old := snapshotRepo(t, r) // timestamp of 1.0.0's publication
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0") // now trusts a newer timestamp than old's
	publish(t, r, smallSize, "1.2.0")
	cdn := lagTimestamp(srv, r.Dir, old)
	d.mustUpdate("1.2.0")
	cdn.wantBusted(t, "/metadata/timestamp.json")
}

// TestCDNExpiredTimestamp: the CDN serves a timestamp.json that has
// expired by the device's clock (its origin signed a fresh one since).
func TestCDNExpiredTimestamp(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	old := snapshotRepo(t, r)
	later := time.Now().Add(25 * time.Hour) // timestamps last a day
	r.SetNow(func() time.Time { return later })
	publish(t, r, smallSize, "1.1.0")
	cdn := lagTimestamp(srv, r.Dir, old)
	opts := fastOpts()
	opts.Now = func() time.Time { return later }
	d.reopen(opts)
	d.mustUpdate("1.1.0")
	cdn.wantBusted(t, "/metadata/timestamp.json")
}

// TestCDNNotFoundVersioned: the CDN cached a 404 for the new versioned
// snapshot and targets names (asked for before they were published); the
// device fetches each once past the cache.
func TestCDNNotFoundVersioned(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	snap, tgt := newestMeta(t, r.Dir, metadata.SNAPSHOT), newestMeta(t, r.Dir, metadata.TARGETS)
	cdn := newLagCDN(dirHandler(r.Dir), at(notFound, snap, tgt))
	srv.set(cdn)
	d.mustUpdate("1.1.0")
	cdn.wantBusted(t, snap, tgt)
}

// TestCDNSnapshotMismatch: the CDN serves other bytes (the previous
// snapshot's) under the new snapshot's name: they do not match what the
// timestamp records, and the device fetches it once past the cache.
func TestCDNSnapshotMismatch(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	prev := newestMeta(t, r.Dir, metadata.SNAPSHOT)
	publish(t, r, smallSize, "1.1.0")
	snap := newestMeta(t, r.Dir, metadata.SNAPSHOT)
	cdn := newLagCDN(dirHandler(r.Dir), at(copyOf(r.Dir, prev), snap))
	srv.set(cdn)
	d.mustUpdate("1.1.0")
	cdn.wantBusted(t, snap)
}

// TestCDNStaysStale: a cache that ignores cache-busting requests. The
// update fails with the code it fails with without a CDN in the way, after
// exactly one cache-busting request for the file, and the active model is
// unchanged.
func TestCDNStaysStale(t *testing.T) {
	t.Parallel()
	t.Run("older timestamp", func(t *testing.T) {
		r, srv, d := onV1(t)
		old := snapshotRepo(t, r)
		publish(t, r, smallSize, "1.1.0")
		d.mustUpdate("1.1.0")
		publish(t, r, smallSize, "1.2.0")
		cdn := lagTimestamp(srv, r.Dir, old)
		cdn.sticky = true
		d.wantFail(client.RollbackRejected, "1.1.0")
		d.wantNotInstalled("1.2.0")
		cdn.wantBusted(t, "/metadata/timestamp.json")
	})
	t.Run("missing snapshot", func(t *testing.T) {
		r, srv, d := onV1(t)
		publish(t, r, smallSize, "1.1.0")
		snap := newestMeta(t, r.Dir, metadata.SNAPSHOT)
		cdn := newLagCDN(dirHandler(r.Dir), at(notFound, snap))
		cdn.sticky = true
		srv.set(cdn)
		d.wantFail(client.Network, "1.0.0")
		d.wantNotInstalled("1.1.0")
		cdn.wantBusted(t, snap)
	})
	t.Run("mismatched targets", func(t *testing.T) {
		r, srv, d := onV1(t)
		prev := newestMeta(t, r.Dir, metadata.TARGETS)
		publish(t, r, smallSize, "1.1.0")
		tgt := newestMeta(t, r.Dir, metadata.TARGETS)
		cdn := newLagCDN(dirHandler(r.Dir), at(copyOf(r.Dir, prev), tgt))
		cdn.sticky = true
		srv.set(cdn)
		d.wantFail(client.MetadataInvalid, "1.0.0")
		d.wantNotInstalled("1.1.0")
		cdn.wantBusted(t, tgt)
	})
}

// TestCDNFreshRepositoryNoRetry: a repository served as it is makes no
// cache-busting request (root probing's 404 included).
func TestCDNFreshRepositoryNoRetry(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	cdn := newLagCDN(dirHandler(r.Dir), at(nil))
	srv.set(cdn)
	d.mustUpdate("1.1.0")
	d.mustUpdate("1.1.0")
	cdn.wantBusted(t)
}
