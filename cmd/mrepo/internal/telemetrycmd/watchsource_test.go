package telemetrycmd

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/telemetry/store"
)

// TestCollectorSource: the query is passed on; an answer that is not 200,
// not JSON, or larger than maxReportBody is an error (never a report).
func TestCollectorSource(t *testing.T) {
	var body string
	status := http.StatusOK
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.Path + "?" + r.URL.RawQuery
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	src, err := newCollectorSource(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	q := store.Query{ModelID: "det", Version: "1.1.0"}
	body = `{"model_id":"det","versions":[{"version":"1.1.0","rollback_rate":{"value":0.3,"reports":400}}]}`
	rep, err := src.Report(context.Background(), q)
	if err != nil || rep.ModelID != "det" || rep.Versions[0].RollbackRate.Reports != 400 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	if query != "/v1/report?model=det&version=1.1.0" {
		t.Errorf("query %s", query)
	}
	for name, c := range map[string]struct {
		status int
		body   string
		want   string
	}{
		"store down": {http.StatusServiceUnavailable, `{"error":"store"}`, "503"},
		"not JSON":   {http.StatusOK, `<html>`, "collector: report:"},
		"oversized":  {http.StatusOK, `{"model_id":"det","since":"` + strings.Repeat("x", maxReportBody) + `"}`, "larger than"},
	} {
		status, body = c.status, c.body
		if rep, err := src.Report(context.Background(), q); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %+v, %v; want an error with %q", name, rep, err, c.want)
		}
	}
	for _, bad := range []string{"ftp://x", "collector:8090", "http://"} {
		if _, err := newCollectorSource(bad); err == nil {
			t.Errorf("--collector %q accepted", bad)
		}
	}
}
