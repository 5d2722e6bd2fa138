package transport

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// A repository served through a CDN is seen through caches that may lag
// behind it: a cached timestamp.json older than the one the device
// trusts, or expired; a snapshot or targets file under an unversioned
// name that is not the version the referring metadata records; a 404
// cached for a versioned name published a moment later. Each would fail
// the refresh until the cache expires. MetaFetcher therefore makes such a
// download once more, with a request caches must pass to the origin
// (CacheBustParam with a random value, and no-cache headers), and hands
// what that returns to go-tuf, which verifies it as it verifies anything:
// the retry decides nothing about trust. It happens at most once per
// download, so a server that stays stale fails the refresh with the code
// it failed with before. docs/client.md ("Behind a CDN") has the details.

// CacheBustParam is the query parameter of a cache-busting request.
const CacheBustParam = "edgetuf-cb"

// FreshFetcher is a metadata fetcher that can fetch past HTTP caches.
type FreshFetcher interface {
	DownloadFresh(u string, maxLength int64) ([]byte, error)
}

// DownloadFresh is DownloadFile with a cache-busting request: a random
// value of CacheBustParam in the query (a URL no cache holds) and
// "Cache-Control: no-cache" and "Pragma: no-cache" (for caches that key
// on the path only).
func (f *HTTPFetcher) DownloadFresh(u string, maxLength int64) ([]byte, error) {
	h := http.Header{}
	h.Set("Cache-Control", "no-cache")
	h.Set("Pragma", "no-cache")
	return f.download(CacheBusted(u), maxLength, h)
}

// CacheBusted is u with a fresh random value of CacheBustParam.
func CacheBusted(u string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand)
	return u + sep + CacheBustParam + "=" + hex.EncodeToString(b)
}

// mayBeCached reports whether the outcome of downloading u (metadata of
// role) may be a stale cache's: a 404 for a versioned name other than a
// root's (go-tuf probes the next root version, which is normally
// missing), or bytes that Stale reports stale.
func (f *MetaFetcher) mayBeCached(u, role string, data []byte, err error) bool {
	if err != nil {
		var he *metadata.ErrDownloadHTTP
		return errors.As(err, &he) && he.StatusCode == http.StatusNotFound && role != metadata.ROOT && versioned(f.Prefix, u)
	}
	return f.Stale != nil && f.Stale(role, data)
}

// versioned reports whether u names a versioned metadata file
// (PREFIX<N>.<role>.json).
func versioned(prefix, u string) bool {
	name, ok := strings.CutPrefix(u, prefix)
	if !ok {
		name = u[strings.LastIndexByte(u, '/')+1:]
	}
	v, _, ok := strings.Cut(name, ".")
	return ok && v != "" && strings.Trim(v, "0123456789") == ""
}
