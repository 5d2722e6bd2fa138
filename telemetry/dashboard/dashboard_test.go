package dashboard

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// testNow is the clock of every test.
var testNow = time.Date(2026, 12, 5, 12, 30, 0, 0, time.UTC)

// fill stores n reports of kind for model@version at the given hour
// (hours before testNow), kept at rate (basis points).
func fill(t testing.TB, st store.Store, model, version, kind, code string, hoursAgo, n, rate int) {
	t.Helper()
	hour := testNow.Truncate(time.Hour).Add(-time.Duration(hoursAgo) * time.Hour).Format(time.RFC3339)
	var batch []telemetry.Report
	for range n {
		batch = append(batch, telemetry.Report{ID: newID(), Kind: kind, Code: code, Hour: hour, ModelID: model,
			Version: version, CohortPercent: -1, Rate: rate})
	}
	if _, err := st.Insert(context.Background(), testNow, batch); err != nil {
		t.Fatal(err)
	}
}

var idCounter uint64

func newID() string { idCounter++; return fmt.Sprintf("%032x", idCounter) }

// fleet is the store of the tests: detector 1.0.0 with 100 activations
// over two hours (10 reports kept at 10%), 4 rollbacks (all kept), and
// detector 1.1.0 offered to 3 devices.
func fleet(t testing.TB) *store.Memory {
	st := store.NewMemory()
	fillFleet(t, st)
	return st
}

// fillFleet stores fleet's reports in st.
func fillFleet(t testing.TB, st store.Store) {
	fill(t, st, "detector", "1.0.0", telemetry.KindOffered, "", 2, 12, 1000)
	fill(t, st, "detector", "1.0.0", telemetry.KindActivated, "", 2, 6, 1000)
	fill(t, st, "detector", "1.0.0", telemetry.KindActivated, "", 1, 4, 1000)
	fill(t, st, "detector", "1.0.0", telemetry.KindRolledBack, "HEALTH_CHECK_FAILED", 1, 4, 10000)
	fill(t, st, "detector", "1.1.0", telemetry.KindOffered, "", 0, 3, 10000)
	fill(t, st, "ranker", "2.0.0", telemetry.KindOffered, "", 0, 1, 10000)
}

func newHandler(st store.Store) http.Handler {
	return New(fleetreport.FromStore(st), st, Options{Now: func() time.Time { return testNow }, Refresh: 7 * time.Second})
}

func get(t *testing.T, h http.Handler, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// TestModelPage: the page carries the store's numbers in its charts (as
// exact data attributes) and tables, refreshes itself, and is served with
// the strict policy, whose style hash is that of the page's stylesheet.
func TestModelPage(t *testing.T) {
	resp, body := get(t, newHandler(fleet(t)), "/dashboard?model=detector")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("status %d, type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="7">`,
		`data-version="1.0.0" data-reports="26"`,
		`data-kind="activated" data-estimate="100" data-reports="10"`,
		`data-kind="rolled_back" data-estimate="4" data-reports="4"`,
		`data-kind="offered" data-estimate="120" data-reports="12"`,
		`data-hour="2026-12-05T10:00:00Z" data-rate="0"`,
		`data-hour="2026-12-05T11:00:00Z" data-rate="0.04"`,
		`<td>HEALTH_CHECK_FAILED</td><td>4</td><td>4</td>`,
		`data-version="1.1.0" data-reports="3"`,
		`No activations reported yet.`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "ranker") {
		t.Error("the page of detector shows another model")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	style := body[strings.Index(body, "<style>")+len("<style>") : strings.Index(body, "</style>")]
	sum := sha256.Sum256([]byte(style))
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
		t.Errorf("policy %q does not allow exactly the page's stylesheet", csp)
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "style=") {
		t.Error("the page has a script or an inline style attribute")
	}
}

// TestModelList: /dashboard links every model; an empty store says so.
func TestModelList(t *testing.T) {
	_, body := get(t, newHandler(fleet(t)), "/dashboard")
	for _, want := range []string{`<a href="/dashboard?model=detector">detector</a>`, `<a href="/dashboard?model=ranker">ranker</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("list lacks %s:\n%s", want, body)
		}
	}
	if _, body := get(t, newHandler(store.NewMemory()), "/dashboard"); !strings.Contains(body, "No reports yet.") {
		t.Errorf("empty list: %s", body)
	}
}

// TestSince: a relative since is read against the injected clock; the
// older hour's reports drop out of the page and of the report.
func TestSince(t *testing.T) {
	h := newHandler(fleet(t))
	_, body := get(t, h, "/v1/report?model=detector&version=1.0.0&since=90m")
	var r fleetreport.Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err, body)
	}
	if r.Since != "2026-12-05T11:00:00Z" || len(r.Versions) != 1 || r.Versions[0].Stages[3].Reports != 4 || r.Versions[0].Stages[0].Reports != 0 {
		t.Fatalf("report since 90m ago: %s", body)
	}
	_, page := get(t, h, "/dashboard?model=detector&since=90m")
	if strings.Contains(page, "2026-12-05T10:00:00Z") || !strings.Contains(page, `data-kind="activated" data-estimate="40"`) {
		t.Errorf("page since 90m ago shows older reports")
	}
}

// TestReportJSON: /v1/report is the report FromStore builds.
func TestReportJSON(t *testing.T) {
	st := fleet(t)
	resp, body := get(t, newHandler(st), "/v1/report?model=detector")
	want, _ := fleetreport.FromStore(st).Report(context.Background(), store.Query{ModelID: "detector"})
	wantJSON, _ := json.Marshal(want)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || body != string(wantJSON)+"\n" {
		t.Fatalf("status %d: %s\nwant %s", resp.StatusCode, body, wantJSON)
	}
	got, err := fleetreport.ParseReport([]byte(body), store.Query{ModelID: "detector"})
	if err != nil || len(got.Versions) != 2 {
		t.Fatalf("the answer does not parse as a report: %v", err)
	}
}

// TestRefusals: every parameter is checked; the refusal says why, as
// JSON on /v1/report and as text on /dashboard.
func TestRefusals(t *testing.T) {
	h := newHandler(fleet(t))
	for _, tc := range []struct {
		target string
		status int
		want   string
	}{
		{"/v1/report", 400, "model is required"},
		{"/v1/report?model=../etc", 400, "invalid report query"},
		{"/v1/report?model=detector&version=latest", 400, "version"},
		{"/v1/report?model=detector&since=yesterday", 400, "since"},
		{"/v1/report?model=detector&since=-5h", 400, "since"},
		{"/v1/report?model=detector&model=ranker", 400, "2 times"},
		{"/v1/report?model=detector&sort=x", 400, "unknown parameter"},
		{"/v1/report?model=%zz", 400, "malformed"},
		{"/v1/report?model=" + strings.Repeat("a", 2000), 414, "too long"},
		{"/dashboard?version=1.0.0", 400, "need a model"},
		{"/dashboard?model=<script>", 400, "invalid report query"},
		{"/dashboard/x", 404, ""},
	} {
		resp, body := get(t, h, tc.target)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.target, resp.StatusCode, body, tc.status, tc.want)
		}
		if strings.HasPrefix(tc.target, "/v1/") && tc.status != 404 {
			var e struct{ Error string }
			if json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
				t.Errorf("%s: refusal %q is not {\"error\":...}", tc.target, body)
			}
		}
		// A refusal may quote what was asked, never as markup.
		if ct := resp.Header.Get("Content-Type"); tc.status != 404 && (strings.Contains(ct, "html") || resp.Header.Get("X-Content-Type-Options") != "nosniff") {
			t.Errorf("%s: refusal served as %q without nosniff", tc.target, ct)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/report?model=detector", nil))
	if rec.Code != 405 {
		t.Errorf("POST: %d", rec.Code)
	}
}

// failingStore fails every read.
type failingStore struct{ *store.Memory }

var errDisk = errors.New("disk on fire at /var/lib/secret.db")

func (*failingStore) Counts(context.Context, store.Query) ([]store.Count, error) { return nil, errDisk }
func (*failingStore) Models(context.Context) ([]string, error)                   { return nil, errDisk }

// TestStoreFailure: a store failure is a 503 that shows nothing of it,
// and is logged.
func TestStoreFailure(t *testing.T) {
	var logged []string
	st := &failingStore{store.NewMemory()}
	h := New(fleetreport.FromStore(st), st, Options{Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
	for _, target := range []string{"/dashboard", "/dashboard?model=detector", "/v1/report?model=detector"} {
		resp, body := get(t, h, target)
		if resp.StatusCode != 503 || strings.Contains(body, "secret") {
			t.Errorf("%s: %d %s", target, resp.StatusCode, body)
		}
	}
	if len(logged) != 3 || !strings.Contains(logged[0], "disk on fire") {
		t.Errorf("logged %q", logged)
	}
}

// fixedSource answers one report whatever the query: a collector that
// serves odd but well-formed text.
type fixedSource struct{ r *fleetreport.Report }

func (s fixedSource) Report(context.Context, store.Query) (*fleetreport.Report, error) {
	return s.r, nil
}

// TestEscaping: text from a source is escaped in every context of the
// page (a collector behind HTTPSource is not trusted for markup).
func TestEscaping(t *testing.T) {
	evil := `"><script>alert(1)</script>`
	r := fleetreport.Build("detector", time.Time{}, []store.Count{{Version: "1.0.0", Kind: telemetry.KindFailed, Code: evil, Reports: 1, Weighted: 1}})
	h := New(fixedSource{r}, store.NewMemory(), Options{})
	_, body := get(t, h, "/dashboard?model=detector")
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("the code is not escaped:\n%s", body)
	}
}

// FuzzQuery: whatever query string a client sends, both endpoints answer
// 200, 400 or 414, never fail otherwise, and a page is HTML only on 200.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{"model=detector", "model=detector&version=1.0.0&since=24h",
		"model=detector&since=2026-12-01T00:00:00Z", "model=%zz", "model=a&model=b", "since=-1h&model=x", "version=1.0.0"} {
		f.Add(seed)
	}
	st := fleet(f)
	h := newHandler(st)
	f.Fuzz(func(t *testing.T, raw string) {
		for _, path := range []string{"/dashboard", "/v1/report"} {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL.Path, req.URL.RawQuery = path, raw
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case 200, 400, 414:
			default:
				t.Fatalf("%s?%s: status %d: %s", path, raw, rec.Code, rec.Body)
			}
			if rec.Code != 200 && strings.Contains(rec.Header().Get("Content-Type"), "html") {
				t.Fatalf("%s?%s: a refusal served as HTML", path, raw)
			}
		}
	})
}

// TestLongSeries: a year of hours draws at most maxLinePoints points,
// the first and the last hour among them, each with its exact rate.
func TestLongSeries(t *testing.T) {
	var points []fleetreport.SeriesPoint
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 8760 {
		points = append(points, fleetreport.SeriesPoint{Hour: start.Add(time.Duration(i) * time.Hour), Rate: fleetreport.Rate{Value: float64(i) / 8760}})
	}
	c := newLineChart(points)
	if len(c.Points) != maxLinePoints || c.Points[0].Hour != "2026-01-01T00:00:00Z" || c.Points[maxLinePoints-1].Hour != "2026-12-31T23:00:00Z" {
		t.Fatalf("%d points, from %s to %s", len(c.Points), c.Points[0].Hour, c.Points[len(c.Points)-1].Hour)
	}
	for _, p := range c.Points {
		h, _ := time.Parse(time.RFC3339, p.Hour)
		if want := fleetreport.FormatExact(float64(h.Sub(start)/time.Hour) / 8760); p.Value != want {
			t.Fatalf("point %s: rate %s, want %s", p.Hour, p.Value, want)
		}
	}
}
