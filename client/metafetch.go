package client

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

// Default size limits of metadata files, in bytes: python-tuf's and
// go-tuf's updater defaults (the TUF specification leaves the bound to
// the client: "download up to Y bytes"). A repository with larger
// metadata needs larger limits in Options; one that delegates can keep
// each role small.
const (
	DefaultMaxRootSize      = 512000
	DefaultMaxTimestampSize = 16384
	DefaultMaxSnapshotSize  = 2000000
	DefaultMaxTargetsSize   = 5000000 // top-level targets and each delegated role
)

// DefaultMetadataTimeout bounds the download of one metadata file, every
// attempt included.
const DefaultMetadataTimeout = 5 * time.Minute

// metaLimits are the size limits in force.
type metaLimits struct{ root, timestamp, snapshot, targets int64 }

func limitsOf(o Options) metaLimits {
	or := func(v, def int64) int64 {
		if v > 0 {
			return v
		}
		return def
	}
	return metaLimits{
		root:      or(o.MaxRootSize, DefaultMaxRootSize),
		timestamp: or(o.MaxTimestampSize, DefaultMaxTimestampSize),
		snapshot:  or(o.MaxSnapshotSize, DefaultMaxSnapshotSize),
		targets:   or(o.MaxTargetsSize, DefaultMaxTargetsSize),
	}
}

// of returns the limit for a role and the option that sets it.
func (l metaLimits) of(role string) (int64, string) {
	switch role {
	case metadata.ROOT:
		return l.root, "MaxRootSize"
	case metadata.TIMESTAMP:
		return l.timestamp, "MaxTimestampSize"
	case metadata.SNAPSHOT:
		return l.snapshot, "MaxSnapshotSize"
	}
	return l.targets, "MaxTargetsSize" // targets and delegated roles
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

// metaFetcher is the fetcher go-tuf and loadRole use: it applies the
// size limits, whatever length the signed metadata declares (a timestamp
// key alone can declare a snapshot of any size), and turns the end of the
// run's context into CANCELLED (or the run's timeout). go-tuf's Refresh
// takes no context, so the run's travels with the fetcher.
//
// It also records the role of the last file asked for: go-tuf's errors do
// not say which role's metadata they concern, and the session needs it to
// give them a code (tufSession.refreshRole).
type metaFetcher struct {
	inner  fetcher.Fetcher
	ctx    context.Context
	prefix string // the metadata URL, with a trailing slash
	limits metaLimits

	mu   sync.Mutex
	last string // the role of the last file asked for; "" before any
}

// lastRole is the role of the last metadata file asked for, "" if none.
func (f *metaFetcher) lastRole() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *metaFetcher) DownloadFile(u string, maxLength int64, timeout time.Duration) ([]byte, error) {
	role := roleOfURL(f.prefix, u)
	f.mu.Lock()
	f.last = role
	f.mu.Unlock()
	if f.ctx.Err() != nil {
		return nil, stopped(f.ctx, "fetching %s", u)
	}
	limit, option := f.limits.of(role)
	capped := maxLength <= 0 || maxLength >= limit
	if capped {
		maxLength = limit
	}
	data, err := f.inner.DownloadFile(u, maxLength, timeout)
	if err != nil {
		if f.ctx.Err() != nil {
			return nil, stopped(f.ctx, "fetching %s", u)
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

// httpFetcher fetches metadata for go-tuf: bounded by maxLength (before
// reading, from Content-Length, and while reading), within the metadata
// timeout all attempts included, each attempt abandoned when nothing
// arrives for the stall timeout, retried on network errors and server
// errors (at most retries more times) but not on 404 (which is how go-tuf
// learns that no newer root exists, on every refresh) nor on what a new
// attempt cannot change (a refused redirect, an untrusted certificate).
type httpFetcher struct {
	ctx     context.Context // the run's: go-tuf passes none
	client  *http.Client
	retries int
	backoff time.Duration
	stall   time.Duration
	timeout time.Duration
	after   afterFunc
}

func (f *httpFetcher) DownloadFile(u string, maxLength int64, _ time.Duration) ([]byte, error) {
	ctx := f.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if f.timeout > 0 {
		var cancel func()
		ctx, cancel = withTimeoutCause(ctx, f.after, f.timeout, &timeoutCause{fmt.Sprintf("no complete copy within %v (metadata timeout)", f.timeout)})
		defer cancel()
	}
	delay := f.backoff
	for attempt := 0; ; attempt++ {
		data, retry, err := f.once(ctx, u, maxLength)
		if err == nil || !retry || attempt >= f.retries {
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
func (f *httpFetcher) once(ctx context.Context, u string, maxLength int64) (data []byte, retry bool, err error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := startWatchdog(f.after, f.stall, func() { cancel(stallCause(f.stall)) })
	defer wd.stop()
	fail := func(err error) ([]byte, bool, error) {
		if actx.Err() != nil {
			// A stall is retried; the end of the file's time or of the
			// run is final.
			return nil, ctx.Err() == nil, &metadata.ErrDownload{Msg: fmt.Sprintf("%s: %v", u, context.Cause(actx))}
		}
		return nil, !finalNetErr(err), &metadata.ErrDownload{Msg: err.Error()}
	}
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, &metadata.ErrDownload{Msg: err.Error()}
	}
	resp, err := f.client.Do(req)
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
