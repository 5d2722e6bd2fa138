package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/report"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
)

// TestIdentifyingValuesLeftOut: a device class, app version or OS
// version configured to something that names the device (its ID, its
// host name, an IP address) is left out of every report.
func TestIdentifyingValuesLeftOut(t *testing.T) {
	const host = "edge-box-17.plant.example"
	hostname = func() (string, error) { return host, nil }
	t.Cleanup(func() { hostname = os.Hostname })
	for name, dev := range map[string]Device{
		"class is the host name":     {ID: "dev-1", Class: "edge-box-17", AppVersion: "1.0", OSVersion: "12"},
		"app version has the ID":     {ID: "SN0042", Class: "cam", AppVersion: "2.0-sn0042", OSVersion: "12"},
		"os version is an IP":        {ID: "dev-1", Class: "cam", AppVersion: "1.0", OSVersion: "10.1.2.3"},
		"class names ID, other case": {ID: "Cam-7F3A", Class: "cam-7f3a", AppVersion: "1.0", OSVersion: "12"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			dev.URL = "http://127.0.0.1:1"
			r := New(dir, dev, Options{}, func() time.Time { return testNow }, slog.New(slog.DiscardHandler))
			rep := r.base(telemetry.KindCrash, "det", "1.0.0")
			for _, v := range []string{rep.DeviceClass, rep.AppVersion, rep.OSVersion} {
				if v != "" && (strings.Contains(strings.ToLower(v), strings.ToLower(dev.ID)) || strings.Contains(host, v) || v == "10.1.2.3") {
					t.Fatalf("report carries %q: %+v", v, rep)
				}
			}
			if rep.DeviceClass == "" && rep.AppVersion == "" && rep.OSVersion == "" {
				t.Fatal("every value left out, not only the identifying one")
			}
		})
	}
}

// TestRequireHTTPSCollector: a device that requires HTTPS records
// nothing for a plain http:// collector, even one given as an option.
func TestRequireHTTPSCollector(t *testing.T) {
	dev := Device{ID: "dev-1", RequireHTTPS: true}
	if r := New(t.TempDir(), dev, Options{URL: "http://collector.example"}, time.Now, slog.New(slog.DiscardHandler)); r != nil {
		t.Fatal("telemetry enabled over plain HTTP on a device that requires HTTPS")
	}
	if r := New(t.TempDir(), dev, Options{URL: "https://collector.example"}, time.Now, slog.New(slog.DiscardHandler)); r == nil {
		t.Fatal("telemetry disabled over HTTPS")
	}
}

// TestUploadSendsNothingElse: the default upload client sends only the
// batch: no cookie (even one the collector set), no credentials, no
// Referer, Go's own User-Agent; and it has no client certificate.
func TestUploadSendsNothingElse(t *testing.T) {
	var mu sync.Mutex
	var headers []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		headers = append(headers, req.Header.Clone())
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "track", Value: "me"})
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	r, _ := testRecorder(t, srv.URL, Options{})
	for i := 0; i < 2; i++ {
		r.Begin()
		r.Observe(report.Event{Event: "failed", ModelID: "det", ToVersion: "2.0.0", Code: "HASH_MISMATCH"})
		r.End(&report.Result{ModelID: "det"}, func(string) *targets.Rollout { return nil })
		r.Flush(context.Background())
		r.uploaded = nil // a new process run
	}
	if len(headers) != 2 {
		t.Fatalf("%d requests, want 2", len(headers))
	}
	for i, h := range headers {
		var names []string
		for k := range h {
			names = append(names, k)
		}
		sort.Strings(names)
		if got := strings.Join(names, " "); got != "Accept-Encoding Content-Length Content-Type User-Agent" {
			t.Errorf("request %d headers: %s", i, got)
		}
		if ua := h.Get("User-Agent"); ua != "Go-http-client/1.1" {
			t.Errorf("request %d User-Agent %q", i, ua)
		}
	}
	tr := r.opts.HTTPClient.Transport.(*http.Transport)
	if r.opts.HTTPClient.Jar != nil || (tr.TLSClientConfig != nil && (len(tr.TLSClientConfig.Certificates) > 0 || tr.TLSClientConfig.GetClientCertificate != nil)) {
		t.Fatal("the upload client has a cookie jar or a client certificate")
	}
}

// TestInvalidReportNotStored: a report that breaks a rule of the format
// (here an error code that is not one) is left out when recorded, and
// the outbox, with the run's other reports, stays readable.
func TestInvalidReportNotStored(t *testing.T) {
	srv := refusing(t, http.StatusServiceUnavailable)
	r, dir := testRecorder(t, srv.URL, Options{})
	r.Begin()
	r.Observe(report.Event{Event: "downloaded", ModelID: "det", ToVersion: "2.0.0"})
	r.Observe(report.Event{Event: "failed", ModelID: "det", ToVersion: "2.0.0", Code: "failed at /home/alice"})
	r.End(&report.Result{ModelID: "det", ToVersion: "2.0.0"}, func(string) *targets.Rollout { return nil })
	r.Flush(context.Background())
	s, _ := readState(t, dir, r.opts)
	var kinds []string
	for _, rep := range s.Reports {
		kinds = append(kinds, rep.Kind)
	}
	if got := strings.Join(kinds, " "); got != "offered downloaded" {
		t.Fatalf("outbox holds %q, want the valid reports only", got)
	}
}
