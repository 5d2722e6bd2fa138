// Package collector is the telemetry collector's HTTP side: the ingest
// endpoint devices upload batches of reports to (POST /v1/reports), its
// counters (/v1/stats), a health check (/healthz), and the read side
// (/dashboard, /v1/report) mounted from Options.ReadHandler.
//
// Every byte of an upload is untrusted: bodies are bounded, parsed
// strictly (telemetry.ParseBatch) and refused whole on any error; each
// client is rate limited by a token bucket keyed by an HMAC of its
// address (no address is ever kept). Accepted batches are queued and
// written by one committer that puts every batch waiting at that moment
// into one transaction (group commit), and a request is answered 200 only
// once the transaction holding its batch has committed: an acknowledged
// report is durable. Raw reports older than the retention are pruned
// periodically; the aggregates are kept.
package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// Defaults of Options.
const (
	DefaultRetention  = 30 * 24 * time.Hour
	DefaultRateLimit  = 20.0 // batches per second per client
	DefaultMaxClients = 100_000
	// DefaultMaxInFlight bounds the uploads being read, parsed or
	// committed at once: with MaxBatchBytes each, 256 of them hold at most
	// 64 MiB of bodies (and their parsed reports).
	DefaultMaxInFlight = 256
	PruneInterval      = time.Hour
)

// NoRateLimit as Options.RateLimit turns the rate limit off (tests, a
// collector behind a proxy that limits).
const NoRateLimit = -1

// MaxFutureSkew is how far ahead of the collector's clock a report's hour
// may be (device clocks drift; a report from further ahead is refused).
const MaxFutureSkew = time.Hour

// Server timeouts (Collector.Server): a client that sends its headers or
// body slowly (slowloris) is cut off instead of holding a connection.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 60 * time.Second
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 16 << 10
)

const (
	// queueLength bounds the batches waiting for the committer; a full
	// queue makes uploads wait (back-pressure), never grows memory. The
	// uploads in flight (Options.MaxInFlight) bound it too.
	queueLength = 1024
	// maxGroupReports bounds the reports of one transaction.
	maxGroupReports = 20_000
	// commitTimeout bounds one transaction.
	commitTimeout = 30 * time.Second
)

// Options configures a Collector. Store is required.
type Options struct {
	Store store.Store
	// ReadHandler serves /dashboard and /v1/report (telemetry/dashboard);
	// nil answers them 404.
	ReadHandler http.Handler
	// Retention is how long raw reports are kept, and how old a report's
	// hour may be (DefaultRetention when zero).
	Retention time.Duration
	// RateLimit is how many uploads per second one client may make
	// (DefaultRateLimit when zero, NoRateLimit for none); Burst how many
	// at once (twice the rate, at least 1, when zero).
	RateLimit float64
	Burst     int
	// MaxClients bounds the rate limiter's memory (DefaultMaxClients when
	// zero).
	MaxClients int
	// MaxInFlight bounds the uploads being read, parsed or committed at
	// once, and so the memory their bodies and reports hold
	// (DefaultMaxInFlight when zero). An upload beyond it is answered 503
	// with Retry-After at once, before its body is read.
	MaxInFlight int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// PruneTicks, when set, triggers pruning instead of a ticker every
	// PruneInterval. Pruning also runs once at start.
	PruneTicks <-chan time.Time
	// Logger receives prune results and store errors (nothing when nil).
	// Nothing about a client is ever logged.
	Logger *slog.Logger
}

// Stats are the collector's counters since start (GET /v1/stats).
// Accepted and Duplicates count the reports of committed batches; the
// others count uploads (POST /v1/reports), each counted in Uploads and in
// exactly one of Acknowledged, RejectedInvalid, RejectedSize,
// RejectedType, RateLimited, StoreErrors and Unavailable once answered.
type Stats struct {
	Accepted        int64 `json:"accepted"`
	Duplicates      int64 `json:"duplicates"`
	Uploads         int64 `json:"uploads"`
	Acknowledged    int64 `json:"acknowledged"`
	RejectedInvalid int64 `json:"rejected_invalid"`
	RejectedSize    int64 `json:"rejected_size"`
	RejectedType    int64 `json:"rejected_type"`
	RateLimited     int64 `json:"rate_limited"`
	StoreErrors     int64 `json:"store_errors"`
	// Unavailable counts uploads answered 503 for another reason than the
	// store: too many in flight, the collector closing, or the client
	// gone before its commit (the batch is committed all the same).
	Unavailable int64 `json:"unavailable"`
	// Pruned counts the raw reports deleted by retention.
	Pruned int64 `json:"pruned"`
}

// Collector is the collector's HTTP handler with its committer and
// pruner. Close stops them.
type Collector struct {
	opts    Options
	limiter *limiter // nil: no limit
	mux     *http.ServeMux
	jobs    chan *job
	// inFlight holds a token per upload being read, parsed or committed.
	inFlight chan struct{}

	accepted, duplicates, uploads, acked, invalid, size, ctype, limited, storeErrs, unavailable, pruned atomic.Int64

	mu      sync.RWMutex // held for reading while a job is queued
	closed  bool
	stop    chan struct{}
	stopped sync.WaitGroup
}

// job is one accepted batch waiting for its commit.
type job struct {
	reports []telemetry.Report
	done    chan result // buffered: the committer never waits for the request
}

type result struct {
	inserted int
	err      error
}

// New starts a collector: its committer and its pruner.
func New(opts Options) (*Collector, error) {
	if opts.Store == nil {
		return nil, errors.New("collector: no store")
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Retention < 0 {
		return nil, errors.New("collector: negative retention")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.MaxInFlight < 0 {
		return nil, errors.New("collector: negative MaxInFlight")
	}
	c := &Collector{opts: opts, jobs: make(chan *job, queueLength), inFlight: make(chan struct{}, opts.MaxInFlight),
		stop: make(chan struct{})}
	if opts.RateLimit != NoRateLimit {
		rate := opts.RateLimit
		if rate == 0 {
			rate = DefaultRateLimit
		}
		if rate < 0 {
			return nil, fmt.Errorf("collector: rate limit %v", rate)
		}
		burst := opts.Burst
		if burst == 0 {
			burst = max(1, int(2*rate))
		}
		maxClients := opts.MaxClients
		if maxClients == 0 {
			maxClients = DefaultMaxClients
		}
		c.limiter = newLimiter(rate, burst, maxClients, opts.Now)
	}
	c.mux = http.NewServeMux()
	c.mux.HandleFunc("POST "+telemetry.IngestPath, c.ingest)
	c.mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, c.Stats()) })
	c.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	})
	read := opts.ReadHandler
	if read == nil {
		read = http.NotFoundHandler()
	}
	c.mux.Handle("/dashboard", read)
	c.mux.Handle("/dashboard/", read)
	c.mux.Handle("/v1/report", read)

	ticks, stopTicker := opts.PruneTicks, func() {}
	if ticks == nil {
		t := time.NewTicker(PruneInterval)
		ticks, stopTicker = t.C, t.Stop
	}
	c.stopped.Add(2)
	go c.commitLoop()
	go func() {
		defer c.stopped.Done()
		defer stopTicker()
		c.prune()
		for {
			select {
			case <-ticks:
				c.prune()
			case <-c.stop:
				return
			}
		}
	}()
	return c, nil
}

// ServeHTTP implements http.Handler.
func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// Server is an http.Server for c with timeouts that bound slow clients.
func (c *Collector) Server() *http.Server {
	return &http.Server{
		Handler:           c,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// Stats returns the counters.
func (c *Collector) Stats() Stats {
	return Stats{
		Accepted: c.accepted.Load(), Duplicates: c.duplicates.Load(), Uploads: c.uploads.Load(),
		Acknowledged: c.acked.Load(), RejectedInvalid: c.invalid.Load(), RejectedSize: c.size.Load(),
		RejectedType: c.ctype.Load(), RateLimited: c.limited.Load(), StoreErrors: c.storeErrs.Load(),
		Unavailable: c.unavailable.Load(), Pruned: c.pruned.Load(),
	}
}

// Close stops taking batches, commits those queued, and stops the
// pruner. It does not close the store. Shut the HTTP server down first:
// an upload arriving after Close is answered 503.
func (c *Collector) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.jobs)
		close(c.stop)
	}
	c.mu.Unlock()
	c.stopped.Wait()
	return nil
}

// ingest handles POST /v1/reports.
func (c *Collector) ingest(w http.ResponseWriter, r *http.Request) {
	c.uploads.Add(1)
	// Until the body is read, a refusal closes the connection: otherwise
	// the server reads what is left of the body before answering, and a
	// client sending it slowly would hold the answer and the connection
	// for ReadTimeout.
	w.Header().Set("Connection", "close")
	if c.limiter != nil {
		if ok, wait := c.limiter.allow(r.RemoteAddr); !ok {
			c.limited.Add(1)
			w.Header().Set("Retry-After", strconv.Itoa(int(max(1, (wait+time.Second-1)/time.Second))))
			writeError(w, http.StatusTooManyRequests, "rate limited: too many uploads from this client")
			return
		}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		c.ctype.Add(1)
		writeError(w, http.StatusUnsupportedMediaType, "the body must be application/json")
		return
	}
	tooLarge := func() {
		c.size.Add(1)
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a batch is at most %d bytes", telemetry.MaxBatchBytes))
	}
	if r.ContentLength > telemetry.MaxBatchBytes {
		tooLarge()
		return
	}
	select {
	case c.inFlight <- struct{}{}:
		defer func() { <-c.inFlight }()
	default:
		c.unavailable.Add(1)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the collector is busy; retry later")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, telemetry.MaxBatchBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			tooLarge()
			return
		}
		c.invalid.Add(1)
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	w.Header().Del("Connection")
	batch, err := telemetry.ParseBatch(body)
	if err == nil {
		err = c.checkHours(batch.Reports)
	}
	if err != nil {
		c.invalid.Add(1)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := c.commit(r.Context(), batch.Reports)
	var unavailable *unavailableError
	switch {
	case errors.As(err, &unavailable):
		c.unavailable.Add(1)
		writeError(w, http.StatusServiceUnavailable, unavailable.msg)
		return
	case err != nil:
		c.storeErrs.Add(1)
		writeError(w, http.StatusServiceUnavailable, "the report store failed; retry later")
		return
	}
	c.acked.Add(1)
	writeJSON(w, http.StatusOK, map[string]int{"accepted": res, "duplicates": len(batch.Reports) - res})
}

// checkHours refuses a batch with a report from more than MaxFutureSkew
// ahead or from before the retention: the first is a broken clock, the
// second would be pruned at once and could skew old figures.
func (c *Collector) checkHours(reports []telemetry.Report) error {
	now := c.opts.Now()
	for i := range reports {
		h, err := time.Parse(time.RFC3339, reports[i].Hour)
		if err != nil { // cannot happen after ParseBatch
			return fmt.Errorf("report %d: %w: %v", i, telemetry.ErrInvalid, err)
		}
		if h.After(now.Add(MaxFutureSkew)) {
			return fmt.Errorf("report %d: %w: hour %s is more than %v ahead of the collector's clock", i, telemetry.ErrInvalid, reports[i].Hour, MaxFutureSkew)
		}
		if h.Before(now.Add(-c.opts.Retention)) {
			return fmt.Errorf("report %d: %w: hour %s is older than the retention (%v)", i, telemetry.ErrInvalid, reports[i].Hour, c.opts.Retention)
		}
	}
	return nil
}

// unavailableError: commit did not get a store's answer for the batch
// (the collector is closing, or the client left).
type unavailableError struct{ msg string }

func (e *unavailableError) Error() string { return e.msg }

// commit queues a batch for the committer and waits until it is durable.
// An error other than *unavailableError is the store's.
func (c *Collector) commit(ctx context.Context, reports []telemetry.Report) (int, error) {
	j := &job{reports: reports, done: make(chan result, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return 0, &unavailableError{"the collector is shutting down; retry later"}
	}
	select {
	case c.jobs <- j:
	case <-ctx.Done():
		c.mu.RUnlock()
		return 0, &unavailableError{"the upload was abandoned before its commit"}
	}
	c.mu.RUnlock()
	select {
	case res := <-j.done:
		return res.inserted, res.err
	case <-ctx.Done(): // the client left; the batch still commits
		return 0, &unavailableError{"the upload was abandoned before its commit"}
	}
}

// commitLoop takes a batch and every other batch already waiting, up to
// maxGroupReports, and commits them together: one transaction and one
// fsync for many concurrent uploads.
func (c *Collector) commitLoop() {
	defer c.stopped.Done()
	for j := range c.jobs {
		group, n := []*job{j}, len(j.reports)
	gather:
		for n < maxGroupReports {
			select {
			case more, ok := <-c.jobs:
				if !ok {
					break gather
				}
				group, n = append(group, more), n+len(more.reports)
			default:
				break gather
			}
		}
		c.commitGroup(group)
	}
}

// commitGroup commits a group of batches in one transaction. If that
// fails (nothing of it is committed), each batch is retried in its own
// transaction, so that one batch the store refuses fails only its own
// upload: every batch is answered by the outcome of the transaction that
// holds it, never by another's.
func (c *Collector) commitGroup(group []*job) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	received := c.opts.Now()
	results := make([]result, len(group))
	crashpoint.Hit("collector.commit") // a crash here loses only unacknowledged batches
	if bi, ok := c.opts.Store.(store.BatchInserter); ok {
		batches := make([][]telemetry.Report, len(group))
		for i, j := range group {
			batches[i] = j.reports
		}
		inserted, err := bi.InsertBatches(ctx, received, batches)
		for i := range results {
			switch {
			case err == nil:
				results[i].inserted = inserted[i]
			case len(group) == 1:
				results[i].err = err
			default:
				results[i].inserted, results[i].err = c.opts.Store.Insert(ctx, received, group[i].reports)
			}
		}
	} else {
		for i, j := range group {
			results[i].inserted, results[i].err = c.opts.Store.Insert(ctx, received, j.reports)
		}
	}
	crashpoint.Hit("collector.committed") // committed, not yet acknowledged: the device retries, a duplicate
	for i, j := range group {
		if err := results[i].err; err != nil {
			c.opts.Logger.Error("telemetry store insert failed", "err", err)
		} else {
			c.accepted.Add(int64(results[i].inserted))
			c.duplicates.Add(int64(len(j.reports) - results[i].inserted))
		}
		j.done <- results[i]
	}
}

// prune deletes the raw reports received before the retention and
// MaxFutureSkew: a report's ID must be kept as long as a retry of it can
// pass checkHours, or the retry would be counted twice. A report received
// at T has an hour of at most T+MaxFutureSkew, and a retry is refused
// once that hour is older than the retention.
func (c *Collector) prune() {
	ctx, cancel := context.WithTimeout(context.Background(), PruneInterval)
	defer cancel()
	before := c.opts.Now().Add(-c.opts.Retention - MaxFutureSkew)
	n, err := c.opts.Store.Prune(ctx, before)
	c.pruned.Add(n)
	if err != nil {
		c.opts.Logger.Error("pruning telemetry reports failed", "before", before.UTC().Format(time.RFC3339), "err", err)
		return
	}
	if n > 0 {
		c.opts.Logger.Info("pruned telemetry reports", "count", n, "before", before.UTC().Format(time.RFC3339))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
