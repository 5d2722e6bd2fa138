package transport

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RetryAfterRecorder keeps the longest Retry-After a server sent with a
// 429 or 503 during the current run (reset at its start), capped at a
// limit (the longest backoff).
type RetryAfterRecorder struct {
	mu    sync.Mutex
	max   time.Duration
	now   func() time.Time
	limit time.Duration
}

// NewRetryAfterRecorder records Retry-After delays as of now, each capped
// at limit.
func NewRetryAfterRecorder(now func() time.Time, limit time.Duration) *RetryAfterRecorder {
	return &RetryAfterRecorder{now: now, limit: limit}
}

// Reset forgets what was recorded: a new run starts.

func (r *RetryAfterRecorder) Reset() {
	r.mu.Lock()
	r.max = 0
	r.mu.Unlock()
}

// Get is the longest Retry-After recorded since the last Reset.
func (r *RetryAfterRecorder) Get() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.max
}

func (r *RetryAfterRecorder) note(h string) {
	d, ok := parseRetryAfter(h, r.now(), r.limit)
	if !ok {
		return
	}
	r.mu.Lock()
	r.max = max(r.max, min(d, r.limit))
	r.mu.Unlock()
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date, capped at limit.
func parseRetryAfter(h string, now time.Time, limit time.Duration) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(limit/time.Second) {
			return limit, true
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
	}
	return 0, false
}

// retryAfterTransport notes the Retry-After of 429 and 503 answers.
type retryAfterTransport struct {
	next http.RoundTripper
	rec  *RetryAfterRecorder
}

func (t *retryAfterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		t.rec.note(resp.Header.Get("Retry-After"))
	}
	return resp, err
}

// WithRetryAfter returns a copy of hc whose transport notes Retry-After.
func WithRetryAfter(hc *http.Client, rec *RetryAfterRecorder) *http.Client {
	out := *hc
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = &retryAfterTransport{next: next, rec: rec}
	return &out
}
