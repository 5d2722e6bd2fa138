package fleetreport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

func report(id, kind, version string, rate int) telemetry.Report {
	return telemetry.Report{ID: id, Kind: kind, Hour: "2026-12-05T01:00:00Z", ModelID: "detector",
		Version: version, CohortPercent: -1, Rate: rate}
}

// TestFromStore: the store's counts, built; a query that does not parse
// is refused before the store is read.
func TestFromStore(t *testing.T) {
	st := store.NewMemory()
	ctx := context.Background()
	if _, err := st.Insert(ctx, time.Now(), []telemetry.Report{
		report(strings.Repeat("1", 32), telemetry.KindActivated, "1.0.0", 1000),
		report(strings.Repeat("2", 32), telemetry.KindRolledBack, "1.0.0", 10000),
		report(strings.Repeat("3", 32), telemetry.KindActivated, "2.0.0", 10000),
	}); err != nil {
		t.Fatal(err)
	}
	r, err := FromStore(st).Report(ctx, store.Query{ModelID: "detector", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Versions) != 1 || r.Versions[0].RollbackRate.Value != 0.1 || r.Versions[0].Stages[3].Estimate != 10 {
		t.Fatalf("report %+v", r)
	}
	for _, q := range []store.Query{{ModelID: "../x"}, {ModelID: "detector", Version: "v1"},
		{ModelID: "detector", Since: time.Date(1, 1, 1, 1, 0, 0, 0, time.UTC)}} {
		if _, err := FromStore(st).Report(ctx, q); !errors.Is(err, ErrQuery) {
			t.Errorf("query %+v: %v, want ErrQuery", q, err)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 5, 1, 30, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                          {},
		"24h":                       now.Add(-24 * time.Hour),
		"90m":                       now.Add(-90 * time.Minute),
		"2026-12-01T00:00:00Z":      time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		"2026-12-01T02:00:00+02:00": time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
	} {
		got, err := ParseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"-1h", "0s", "yesterday", "2026-12-01", "1000000h", "0001-01-01T00:00:00Z"} {
		if _, err := ParseSince(in, now); !errors.Is(err, ErrQuery) {
			t.Errorf("ParseSince(%q): %v, want ErrQuery", in, err)
		}
	}
}

// serve answers every request with status and body, and records the
// last request's URL.
func serve(t *testing.T, status int, body string, got *string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got != nil {
			*got = r.URL.String()
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestHTTPSource: the query goes to /v1/report with its parameters, and
// the answer comes back as the report it is.
func TestHTTPSource(t *testing.T) {
	want := Build("detector", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), []store.Count{
		unsampled("1.0.0", telemetry.KindActivated, "", 10), unsampled("1.0.0", telemetry.KindRolledBack, "X", 1)})
	body, _ := json.Marshal(want)
	var asked string
	base := serve(t, 200, string(body), &asked)
	got, err := HTTPSource(base+"/", nil).Report(context.Background(),
		store.Query{ModelID: "detector", Version: "1.0.0", Since: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if asked != "/v1/report?model=detector&since=2026-12-01T00%3A00%3A00Z&version=1.0.0" {
		t.Errorf("asked %s", asked)
	}
	gotJSON, _ := json.Marshal(got)
	if string(gotJSON) != string(body) {
		t.Errorf("got %s\nwant %s", gotJSON, body)
	}
}

// TestHTTPSourceRefuses: a collector's answer that is too large, not
// strictly a report, or a report of something else, is an error; so is a
// refusal, whose reason is passed on, on one line.
func TestHTTPSourceRefuses(t *testing.T) {
	ok := `{"model_id":"detector","versions":[]}`
	for name, tc := range map[string]struct {
		status int
		body   string
		want   string
	}{
		"too large":      {200, `{"model_id":"detector","versions":[],"since":"` + strings.Repeat("x", MaxReportBytes) + `"}`, "more than"},
		"unknown field":  {200, `{"model_id":"detector","versions":[],"extra":1}`, "unknown field"},
		"trailing data":  {200, ok + ok, "trailing data"},
		"other model":    {200, `{"model_id":"other","versions":[]}`, `model "other"`},
		"no versions":    {200, `{"model_id":"detector"}`, "no versions"},
		"bad version":    {200, `{"model_id":"detector","versions":[{"version":"x"}]}`, "version"},
		"repeated":       {200, `{"model_id":"detector","versions":[{"version":"1.0.0"},{"version":"1.0.0"}]}`, "twice"},
		"not asked":      {200, `{"model_id":"detector","versions":[{"version":"2.0.0"}]}`, "asked for 1.0.0"},
		"refused":        {400, `{"error":"bad\nquery"}`, "400 Bad Request: bad query"},
		"refused, plain": {503, `down`, "503 Service Unavailable: no reason given"},
	} {
		t.Run(name, func(t *testing.T) {
			base := serve(t, tc.status, tc.body, nil)
			q := store.Query{ModelID: "detector"}
			if name == "not asked" {
				q.Version = "1.0.0"
			}
			_, err := HTTPSource(base, nil).Report(context.Background(), q)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if tc.status == 200 && !errors.Is(err, ErrResponse) {
				t.Errorf("error %v is not ErrResponse", err)
			}
		})
	}
	if _, err := HTTPSource("ftp://x", nil).Report(context.Background(), store.Query{ModelID: "detector"}); err == nil {
		t.Error("an ftp collector URL was accepted")
	}
}

// FuzzParseReport: whatever a collector sends, ParseReport returns an
// ErrResponse on one line (no control character a log could be forged
// with) or a report of the model asked for that survives a round
// trip through JSON.
func FuzzParseReport(f *testing.F) {
	good, _ := json.Marshal(Build("detector", time.Time{}, []store.Count{
		unsampled("1.0.0", telemetry.KindActivated, "", 10), unsampled("1.0.0", telemetry.KindRolledBack, "X", 1)}))
	f.Add(good)
	f.Add([]byte(`{"model_id":"detector","versions":[]}`))
	f.Add([]byte(`{"model_id":"detector","versions":[{"version":"1.0.0"},{"version":"1.0.0"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		q := store.Query{ModelID: "detector"}
		r, err := ParseReport(data, q)
		if err != nil {
			if !errors.Is(err, ErrResponse) {
				t.Fatalf("error %v is not ErrResponse", err)
			}
			if strings.ContainsAny(err.Error(), "\n\r\x1b") { // the watch logs it as one line
				t.Fatalf("error %q is not one line", err)
			}
			return
		}
		again, _ := json.Marshal(r)
		if _, err := ParseReport(again, q); err != nil {
			t.Fatalf("accepted %q, but not its re-encoding: %v", data, err)
		}
	})
}
