// Package dashboard is the read side of the telemetry collector: an
// http.Handler serving the fleet dashboard (/dashboard, the list of
// models; /dashboard?model=M, per version the update funnel as a bar
// chart and the rollback rate over time as a line chart, with every number
// also in tables) and the fleet report as JSON (/v1/report). Pages are
// rendered on the server (html/template and inline SVG, no script, no
// build step), refresh themselves with a meta refresh, and are served
// under a strict Content-Security-Policy. docs/telemetry.md, "Reports
// and the dashboard", says what each number means.
package dashboard

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"time"

	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// Paths the handler serves.
const (
	DashboardPath = "/dashboard"
	ReportPath    = fleetreport.ReportPath
)

// Options configure a dashboard. The zero value is usable.
type Options struct {
	// Now is the clock ("since=24h" is read against it, pages show it);
	// nil is time.Now.
	Now func() time.Time
	// Refresh is how often a page reloads itself: 30 s if zero, whole
	// seconds, at least 1 s.
	Refresh time.Duration
	// Logf logs store failures (whose details the client does not see);
	// nil is log.Printf.
	Logf func(format string, args ...any)
}

// maxQueryBytes bounds a request's query string: a model ID, a version
// and a time are well under it.
const maxQueryBytes = 1024

// New returns the handler of DashboardPath and ReportPath: reports come
// from src, the model list and the rollback series from st (src is
// usually fleetreport.FromStore(st)). Other paths are 404.
func New(src fleetreport.Source, st store.Store, opts Options) http.Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 30 * time.Second
	}
	if opts.Refresh < time.Second {
		opts.Refresh = time.Second
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	h := &handler{src: src, st: st, opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc(DashboardPath, h.dashboard)
	mux.HandleFunc(ReportPath, h.report)
	return mux
}

type handler struct {
	src  fleetreport.Source
	st   store.Store
	opts Options
}

// requestError is a refusal with its HTTP status and a message safe to
// show.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

// query reads and checks the parameters of a request: only model,
// version and since, each at most once; model required unless
// modelOptional. since is an RFC 3339 time or a duration back from now.
func (h *handler) query(r *http.Request, modelOptional bool) (store.Query, error) {
	var q store.Query
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return q, &requestError{http.StatusMethodNotAllowed, "method not allowed: use GET"}
	}
	if len(r.URL.RawQuery) > maxQueryBytes {
		return q, &requestError{http.StatusRequestURITooLong, "query too long"}
	}
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return q, &requestError{http.StatusBadRequest, "malformed query string"}
	}
	for k, v := range values {
		switch k {
		case "model", "version", "since":
		default:
			return q, &requestError{http.StatusBadRequest, fmt.Sprintf("unknown parameter %q (want model, version, since)", k)}
		}
		if len(v) != 1 {
			return q, &requestError{http.StatusBadRequest, fmt.Sprintf("parameter %q given %d times", k, len(v))}
		}
	}
	q.ModelID, q.Version = values.Get("model"), values.Get("version")
	if q.ModelID == "" && !modelOptional {
		return q, &requestError{http.StatusBadRequest, "parameter model is required"}
	}
	if q.ModelID == "" && (q.Version != "" || values.Has("since")) {
		return q, &requestError{http.StatusBadRequest, "version and since need a model"}
	}
	if q.Since, err = fleetreport.ParseSince(values.Get("since"), h.opts.Now()); err != nil {
		return q, &requestError{http.StatusBadRequest, err.Error()}
	}
	if q.ModelID != "" {
		if err := fleetreport.CheckQuery(q); err != nil {
			return q, &requestError{http.StatusBadRequest, err.Error()}
		}
	}
	return q, nil
}

// failure is the requestError of err: itself, a 400 for a query the
// source refused, else a 503 whose details are logged, not shown.
func (h *handler) failure(err error) *requestError {
	var re *requestError
	switch {
	case errors.As(err, &re):
		return re
	case errors.Is(err, fleetreport.ErrQuery):
		return &requestError{http.StatusBadRequest, err.Error()}
	case errors.Is(err, context.Canceled):
		return &requestError{http.StatusServiceUnavailable, "request cancelled"}
	}
	h.opts.Logf("dashboard: %v", err)
	return &requestError{http.StatusServiceUnavailable, "the telemetry store failed; see the collector's log"}
}

// report serves the fleet report as JSON (fleetreport.Report).
func (h *handler) report(w http.ResponseWriter, r *http.Request) {
	q, err := h.query(r, false)
	var rep *fleetreport.Report
	if err == nil {
		rep, err = h.src.Report(r.Context(), q)
	}
	if err != nil {
		e := h.failure(err)
		writeJSON(w, e.status, map[string]string{"error": e.msg})
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil { // never with the types served
		status, data = http.StatusInternalServerError, []byte(`{"error":"encoding failed"}`)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// contentSecurityPolicy allows the page nothing but its own stylesheet
// (by hash), the empty data: icon, and links: no script, no frame, no
// form, no other origin.
var contentSecurityPolicy = "default-src 'none'; style-src '" + styleHash() + "'; img-src data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func styleHash() string {
	sum := sha256.Sum256([]byte(stylesheet))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// dashboard serves the model list, or one model's page.
func (h *handler) dashboard(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	q, err := h.query(r, true)
	var page *page
	if err == nil {
		page, err = h.page(r.Context(), q)
	}
	if err != nil {
		e := h.failure(err)
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(e.status)
		_, _ = fmt.Fprintln(w, e.msg)
		return
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTemplate.Execute(w, page); err != nil {
		h.opts.Logf("dashboard: rendering: %v", err)
	}
}
