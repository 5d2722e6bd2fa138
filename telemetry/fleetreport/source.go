package fleetreport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// ReportPath is the collector's HTTP endpoint for fleet reports:
// GET ReportPath?model=M[&version=V][&since=RFC3339] answers a Report as
// JSON (telemetry/dashboard serves it).
const ReportPath = "/v1/report"

// MaxReportBytes bounds a Report read from a collector. A report holds a
// few hundred bytes per version and error code; 4 MiB is thousands of
// versions.
const MaxReportBytes = 4 << 20

// ErrQuery: a report query whose model ID, version or since does not
// parse.
var ErrQuery = errors.New("invalid report query")

// ErrResponse: a collector's answer to a report query that is not a
// well-formed report of the model asked for.
var ErrResponse = errors.New("invalid fleet report response")

// CheckQuery checks the fields of q that a caller typed: a model ID, a
// version if any, a since that is not in the year 0 or far future.
func CheckQuery(q store.Query) error {
	if err := targets.CheckModelID(q.ModelID); err != nil {
		return fmt.Errorf("%w: %v", ErrQuery, err)
	}
	if q.Version != "" {
		if _, err := targets.ParseVersion(q.Version); err != nil {
			return fmt.Errorf("%w: version: %v", ErrQuery, err)
		}
	}
	if !q.Since.IsZero() && (q.Since.Year() < 1970 || q.Since.Year() > 9999) {
		return fmt.Errorf("%w: since %s is out of range", ErrQuery, q.Since.Format(time.RFC3339))
	}
	return nil
}

// maxSinceAgo bounds a relative since: 100 years back.
const maxSinceAgo = 100 * 365 * 24 * time.Hour

// ParseSince reads a report's lower bound as typed: an RFC 3339 time, or
// a positive duration back from now ("24h", "90m"). "" is all time (the
// zero time).
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if t.Year() < 1970 || t.Year() > 9999 {
			return time.Time{}, fmt.Errorf("%w: since %q is out of range", ErrQuery, s)
		}
		return t.UTC(), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > maxSinceAgo {
		return time.Time{}, fmt.Errorf("%w: since %q is neither an RFC 3339 time nor a positive duration such as 24h", ErrQuery, s)
	}
	return now.Add(-d).UTC(), nil
}

// FromStore is a Source that reads st's aggregates in process.
func FromStore(st store.Store) Source { return storeSource{st} }

type storeSource struct{ st store.Store }

func (s storeSource) Report(ctx context.Context, q store.Query) (*Report, error) {
	if err := CheckQuery(q); err != nil {
		return nil, err
	}
	counts, err := s.st.Counts(ctx, q)
	if err != nil {
		return nil, err
	}
	return Build(q.ModelID, q.Since, counts), nil
}

// HTTPSource is a Source that asks a collector (its ReportPath) at
// baseURL ("http://host:port" or "https://...", a path prefix allowed).
// client nil is http.DefaultClient; its timeout bounds a query along with
// the context. The answer is read bounded (MaxReportBytes) and strictly
// (no unknown field, no trailing data) and must be a report of the model
// asked for, its versions valid and not repeated: a collector is trusted
// for the numbers it serves, not for the shape of its bytes.
func HTTPSource(baseURL string, client *http.Client) Source {
	if client == nil {
		client = http.DefaultClient
	}
	return httpSource{base: strings.TrimRight(baseURL, "/"), client: client}
}

type httpSource struct {
	base   string
	client *http.Client
}

func (s httpSource) Report(ctx context.Context, q store.Query) (*Report, error) {
	if err := CheckQuery(q); err != nil {
		return nil, err
	}
	u, err := url.Parse(s.base + ReportPath)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("collector URL %q: want http://HOST[:PORT] or https://...", s.base)
	}
	u.RawQuery = EncodeQuery(q).Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	defer resp.Body.Close()
	body, err := jsonlimit.ReadAll(resp.Body, MaxReportBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrResponse, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if jsonlimit.Unmarshal(body, &e, MaxReportBytes) != nil || e.Error == "" {
			e.Error = "no reason given"
		}
		return nil, fmt.Errorf("collector answered %s: %s", resp.Status, oneLine(e.Error, 200))
	}
	return ParseReport(body, q)
}

// ParseReport parses a collector's answer to q strictly: at most
// MaxReportBytes, no unknown field, no trailing data, a report of q's
// model (and version, if q has one) whose versions parse, are not
// repeated and pass CheckVersion. Any failure is ErrResponse.
func ParseReport(data []byte, q store.Query) (*Report, error) {
	var r Report
	if err := jsonlimit.UnmarshalStrict(data, &r, MaxReportBytes); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrResponse, err)
	}
	if err := checkResponse(&r, q); err != nil {
		return nil, err
	}
	return &r, nil
}

// EncodeQuery is the query string of q for ReportPath.
func EncodeQuery(q store.Query) url.Values {
	v := url.Values{"model": {q.ModelID}}
	if q.Version != "" {
		v.Set("version", q.Version)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	return v
}

func checkResponse(r *Report, q store.Query) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrResponse, fmt.Sprintf(format, a...))
	}
	if r.ModelID != q.ModelID {
		return bad("report of model %q, asked for %q", oneLine(r.ModelID, 64), q.ModelID)
	}
	if r.Versions == nil {
		return bad("no versions list")
	}
	seen := map[string]bool{}
	for _, v := range r.Versions {
		if _, err := targets.ParseVersion(v.Version); err != nil {
			return bad("version: %v", err)
		}
		if seen[v.Version] {
			return bad("version %s twice", v.Version)
		}
		seen[v.Version] = true
		if q.Version != "" && v.Version != q.Version {
			return bad("version %s, asked for %s", v.Version, q.Version)
		}
	}
	for i := range r.Versions {
		if err := CheckVersion(&r.Versions[i]); err != nil {
			return bad("version %s: %v", r.Versions[i].Version, err)
		}
	}
	return nil
}

// oneLine is s on one line, at most max bytes: a server's text printed
// in an error message.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
