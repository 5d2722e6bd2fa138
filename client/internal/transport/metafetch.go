package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
)

// Limits are the size limits of metadata files in force, in bytes:
// Targets applies to the top-level targets and to each delegated role.
type Limits struct{ Root, Timestamp, Snapshot, Targets int64 }

// Or is l with each limit that is not positive replaced by def's.
func (l Limits) Or(def Limits) Limits {
	or := func(v, d int64) int64 {
		if v > 0 {
			return v
		}
		return d
	}
	return Limits{Root: or(l.Root, def.Root), Timestamp: or(l.Timestamp, def.Timestamp), Snapshot: or(l.Snapshot, def.Snapshot), Targets: or(l.Targets, def.Targets)}
}

// of returns the limit for a role and the option that sets it.
func (l Limits) of(role string) (int64, string) {
	switch role {
	case metadata.ROOT:
		return l.Root, "MaxRootSize"
	case metadata.TIMESTAMP:
		return l.Timestamp, "MaxTimestampSize"
	case metadata.SNAPSHOT:
		return l.Snapshot, "MaxSnapshotSize"
	}
	return l.Targets, "MaxTargetsSize" // targets and delegated roles
}

// roleOfURL names the role of a metadata URL as go-tuf (and loadRole)
// build them: PREFIX[VERSION.]ROLE.json, ROLE path-escaped.
func roleOfURL(prefix, u string) string {
	name, ok := strings.CutPrefix(u, prefix)
	if !ok {
		name = u[strings.LastIndexByte(u, '/')+1:]
	}
	name = strings.TrimSuffix(name, ".json")
	if v, rest, ok := strings.Cut(name, "."); ok && v != "" && strings.Trim(v, "0123456789") == "" {
		name = rest
	}
	if un, err := url.PathUnescape(name); err == nil {
		name = un
	}
	return name
}

// MetaFetcher is the fetcher go-tuf and loadRole use: it applies the
// size limits, whatever length the signed metadata declares (a timestamp
// key alone can declare a snapshot of any size), and turns the end of the
// run's context into CANCELLED (or the run's timeout). go-tuf's Refresh
// takes no context, so the run's travels with the fetcher.
//
// It also records the role of the last file asked for: go-tuf's errors do
// not say which role's metadata they concern, and the session needs it to
// give them a code (tufsession.Session.refreshRole).
type MetaFetcher struct {
	Inner  fetcher.Fetcher
	Ctx    context.Context
	Prefix string // the metadata URL, with a trailing slash
	Limits Limits
	// Stale, if set, reports whether a downloaded metadata file is what a
	// cache serves after the repository moved on (cachebust.go): the
	// download is then made once more, past the caches.
	Stale func(role string, data []byte) bool

	mu   sync.Mutex
	last string // the role of the last file asked for; "" before any
}

// lastRole is the role of the last metadata file asked for, "" if none.
func (f *MetaFetcher) LastRole() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *MetaFetcher) DownloadFile(u string, maxLength int64, timeout time.Duration) ([]byte, error) {
	role := roleOfURL(f.Prefix, u)
	f.mu.Lock()
	f.last = role
	f.mu.Unlock()
	if f.Ctx.Err() != nil {
		return nil, Stopped(f.Ctx, "fetching %s", u)
	}
	limit, option := f.Limits.of(role)
	capped := maxLength <= 0 || maxLength >= limit
	if capped {
		maxLength = limit
	}
	data, err := f.Inner.DownloadFile(u, maxLength, timeout)
	if fresh, ok := f.Inner.(FreshFetcher); ok && f.Ctx.Err() == nil && f.mayBeCached(u, role, data, err) {
		data, err = fresh.DownloadFresh(u, maxLength)
	}
	if err != nil {
		if f.Ctx.Err() != nil {
			return nil, Stopped(f.Ctx, "fetching %s", u)
		}
		var lm *metadata.ErrDownloadLengthMismatch
		if capped && errors.As(err, &lm) {
			return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is larger than this client's limit for %s metadata, %d bytes (Options.%s)", u, kindOf(role), limit, option)}
		}
		return nil, err
	}
	return data, nil
}

func kindOf(role string) string {
	switch role {
	case metadata.ROOT, metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS:
		return role
	}
	return "delegated targets"
}

// HTTPFetcher fetches metadata for go-tuf: bounded by maxLength (before
// reading, from Content-Length, and while reading), within the metadata
// timeout all attempts included, each attempt abandoned when nothing
// arrives for the stall timeout, retried on network errors and server
// errors (at most retries more times) but not on 404 (which is how go-tuf
// learns that no newer root exists, on every refresh) nor on what a new
// attempt cannot change (a refused redirect, an untrusted certificate).
type HTTPFetcher struct {
	Ctx     context.Context // the run's: go-tuf passes none
	Client  *http.Client
	Retries int
	Backoff time.Duration
	Stall   time.Duration
	Timeout time.Duration
	After   AfterFunc
}

func (f *HTTPFetcher) DownloadFile(u string, maxLength int64, _ time.Duration) ([]byte, error) {
	return f.download(u, maxLength, nil)
}

// download fetches u, with header added to each attempt's request.
func (f *HTTPFetcher) download(u string, maxLength int64, header http.Header) ([]byte, error) {
	ctx := f.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if f.Timeout > 0 {
		var cancel func()
		ctx, cancel = WithTimeoutCause(ctx, f.After, f.Timeout, &TimeoutCause{fmt.Sprintf("no complete copy within %v (metadata timeout)", f.Timeout)})
		defer cancel()
	}
	delay := f.Backoff
	for attempt := 0; ; attempt++ {
		data, retry, err := f.once(ctx, u, maxLength, header)
		if err == nil || !retry || attempt >= f.Retries {
			return data, err
		}
		if sleepCtx(ctx, delay) != nil {
			return nil, &metadata.ErrDownload{Msg: fmt.Sprintf("%s: %v", u, context.Cause(ctx))}
		}
		if delay < 30*time.Second {
			delay *= 2
		}
	}
}

// once makes one attempt; retry says whether another may succeed.
func (f *HTTPFetcher) once(ctx context.Context, u string, maxLength int64, header http.Header) (data []byte, retry bool, err error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := startWatchdog(f.After, f.Stall, func() { cancel(stallCause(f.Stall)) })
	defer wd.stop()
	fail := func(err error) ([]byte, bool, error) {
		if actx.Err() != nil {
			// A stall is retried; the end of the file's time or of the
			// run is final.
			return nil, ctx.Err() == nil, &metadata.ErrDownload{Msg: fmt.Sprintf("%s: %v", u, context.Cause(actx))}
		}
		return nil, !FinalNetErr(err), &metadata.ErrDownload{Msg: err.Error()}
	}
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, &metadata.ErrDownload{Msg: err.Error()}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s := resp.StatusCode
		return nil, s >= 500 || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests, &metadata.ErrDownloadHTTP{StatusCode: s, URL: u}
	}
	if resp.ContentLength > maxLength {
		return nil, false, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is %d bytes, more than the %d allowed", u, resp.ContentLength, maxLength)}
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(wd.reader(io.LimitReader(resp.Body, maxLength+1))); err != nil {
		return fail(err)
	}
	if int64(buf.Len()) > maxLength {
		return nil, false, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is more than the %d bytes allowed", u, maxLength)}
	}
	return buf.Bytes(), false, nil
}
