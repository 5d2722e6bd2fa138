package telemetry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/report"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
)

var testNow = time.Date(2026, 12, 5, 10, 30, 0, 0, time.UTC)

// testRecorder is a recorder of a fresh state directory posting to url.
func testRecorder(t testing.TB, url string, o Options) (*Recorder, string) {
	t.Helper()
	dir := t.TempDir()
	o.URL = url
	r := New(dir, Device{ID: "dev-1", Class: "cam", AppVersion: "1.0"}, o, func() time.Time { return testNow }, slog.New(slog.DiscardHandler))
	if r == nil {
		t.Fatal("no recorder")
	}
	return r, dir
}

// flood records n update runs of three reports each.
func flood(r *Recorder, n int) {
	for i := 0; i < n; i++ {
		r.Begin()
		for _, e := range []string{"downloaded", "verified", "activated"} {
			r.Observe(report.Event{Event: e, ModelID: "det", ToVersion: "1.0.0"})
		}
		r.End(&report.Result{ModelID: "det", ToVersion: "1.0.0", FromVersion: "1.0.0", Version: "1.0.0"}, func(string) *targets.Rollout { return nil })
		r.Flush(context.Background()) // the upload End started (to a collector that refuses)
	}
}

// readState is the outbox of dir as the recorder reads it (outbox.json
// with the journal merged in), failing the test if either is damaged,
// and the bytes both files take.
func readState(t testing.TB, dir string, o Options) (*State, int64) {
	t.Helper()
	box := newOutbox(dir, o.MaxReports, o.MaxBytes)
	s, _, damaged := box.load()
	if damaged != nil {
		t.Fatal(damaged)
	}
	var size int64
	for _, name := range []string{OutboxFile, JournalFile} {
		if fi, err := os.Lstat(filepath.Join(dir, Dir, name)); err == nil {
			size += fi.Size()
		}
	}
	return s, size
}

// refusing answers every upload with status.
func refusing(t testing.TB, status int) *httptest.Server {
	srv := httptest.NewServer(answer(status))
	t.Cleanup(srv.Close)
	return srv
}

// TestOutboxBounded floods the outbox while the collector is down: it
// never holds more than MaxReports reports nor more than MaxBytes bytes,
// the oldest are dropped, and the count of dropped reports is sent in a
// KindDropped report once the collector answers.
func TestOutboxBounded(t *testing.T) {
	for _, o := range []Options{{MaxReports: 50, MaxBytes: 1 << 20}, {MaxReports: 5000, MaxBytes: minMaxBytes}} {
		srv := refusing(t, http.StatusServiceUnavailable)
		r, dir := testRecorder(t, srv.URL, o)
		const runs = 150 // 450 reports: more than either bound holds
		flood(r, runs)
		s, size := readState(t, dir, r.opts)
		if len(s.Reports) > o.MaxReports || size > o.MaxBytes {
			t.Fatalf("outbox of %d reports, %d bytes; bounds %d, %d", len(s.Reports), size, o.MaxReports, o.MaxBytes)
		}
		var pending int64
		for _, rep := range s.Reports {
			if rep.Kind == telemetry.KindDropped {
				pending += rep.Count
			} else {
				pending++
			}
		}
		if s.Dropped != nil {
			pending += s.Dropped.Count
		}
		if pending != 3*runs {
			t.Fatalf("%d reports kept or counted as dropped, want %d", pending, 3*runs)
		}
		// The newest survive.
		if last := s.Reports[len(s.Reports)-1]; last.Kind != telemetry.KindActivated && last.Kind != telemetry.KindDropped {
			t.Fatalf("newest report is %s", last.Kind)
		}
		// The collector is back: batches carry the dropped count; every
		// report is either received or counted.
		var mu sync.Mutex
		var got int64
		ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, _ := io.ReadAll(req.Body)
			b, err := telemetry.ParseBatch(body)
			if err != nil {
				t.Errorf("invalid batch: %v", err)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			if len(body) > telemetry.MaxBatchBytes || len(b.Reports) > telemetry.MaxReportsPerBatch {
				t.Errorf("batch of %d bytes, %d reports", len(body), len(b.Reports))
			}
			mu.Lock()
			for _, rep := range b.Reports {
				if rep.Kind == telemetry.KindDropped {
					got += rep.Count
				} else {
					got++
				}
			}
			mu.Unlock()
		}))
		t.Cleanup(ok.Close)
		r.ingest = ok.URL + telemetry.IngestPath
		for i := 0; i < 100; i++ {
			if err := r.Upload(context.Background()); err != nil {
				t.Fatal(err)
			}
			if s, _ := readState(t, dir, r.opts); len(s.Reports) == 0 && s.Dropped == nil {
				break
			}
		}
		if got != 3*runs {
			t.Fatalf("collector counted %d reports, want %d", got, 3*runs)
		}
	}
}

// answer answers status (a 3xx with a Location: a redirect the upload
// must not follow).
func answer(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if status/100 == 3 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
	}
}

// TestUploadAnswers: 200 removes the batch; 400 removes it and counts it
// as dropped; 429 and 500 keep it.
func TestUploadAnswers(t *testing.T) {
	for _, tc := range []struct {
		status              int
		kept, droppedCounts bool
	}{
		{http.StatusOK, false, false},
		{http.StatusBadRequest, false, true},
		{http.StatusRequestEntityTooLarge, false, true},
		{http.StatusTooManyRequests, true, false},
		{http.StatusInternalServerError, true, false},
		{http.StatusMovedPermanently, true, false},
		{http.StatusTemporaryRedirect, true, false},
	} {
		var mu sync.Mutex
		requests := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			requests++
			mu.Unlock()
			answer(tc.status)(w, req)
		}))
		t.Cleanup(srv.Close)
		r, dir := testRecorder(t, srv.URL, Options{})
		r.Begin()
		r.Observe(report.Event{Event: "failed", ModelID: "det", ToVersion: "2.0.0", Code: "HASH_MISMATCH"})
		r.End(&report.Result{ModelID: "det"}, func(string) *targets.Rollout { return nil })
		err := r.Flush(context.Background())
		if (err == nil) != (tc.status == http.StatusOK) {
			t.Errorf("%d: upload error %v", tc.status, err)
		}
		s, _ := readState(t, dir, r.opts)
		if kept := len(s.Reports) == 1; kept != tc.kept {
			t.Errorf("%d: %d reports kept", tc.status, len(s.Reports))
		}
		if counted := s.Dropped != nil && s.Dropped.Count == 1 && s.Dropped.Version == "2.0.0"; counted != tc.droppedCounts {
			t.Errorf("%d: dropped %+v", tc.status, s.Dropped)
		}
		if requests != 1 {
			t.Errorf("%d: %d requests for one upload (a redirect followed?)", tc.status, requests)
		}
	}
}

// TestOutboxDamaged: an outbox file that does not parse, is too large or
// is a link is never trusted: it is replaced by an empty outbox (nothing
// read through a link) and recording goes on.
func TestOutboxDamaged(t *testing.T) {
	srv := refusing(t, http.StatusServiceUnavailable)
	for name, plant := range map[string]func(path string) error{
		"garbage":   func(p string) error { return os.WriteFile(p, []byte("{not json"), 0o600) },
		"oversized": func(p string) error { return os.WriteFile(p, []byte(strings.Repeat(" ", DefaultMaxBytes+1)), 0o600) },
		"bad report": func(p string) error {
			return os.WriteFile(p, []byte(`{"format":"edgetuf-outbox-v1","reports":[{"id":"x","kind":"offered"}]}`), 0o600)
		},
		"link": func(p string) error {
			target := filepath.Join(filepath.Dir(p), "elsewhere.json")
			os.WriteFile(target, []byte(`{"format":"edgetuf-outbox-v1","reports":[]}`), 0o600)
			return os.Symlink(target, p)
		},
	} {
		t.Run(name, func(t *testing.T) {
			r, dir := testRecorder(t, srv.URL, Options{})
			os.MkdirAll(filepath.Join(dir, Dir), 0o700)
			if err := plant(filepath.Join(dir, Dir, OutboxFile)); err != nil {
				t.Fatal(err)
			}
			flood(r, 1)
			s, _ := readState(t, dir, r.opts)
			if len(s.Reports) != 3 {
				t.Fatalf("%d reports after replacing a damaged outbox", len(s.Reports))
			}
			if fi, err := os.Lstat(filepath.Join(dir, Dir, OutboxFile)); err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("outbox is not a regular file: %v", err)
			}
		})
	}
}

// TestParseStateRejects: each rule of ParseState is enforced.
func TestParseStateRejects(t *testing.T) {
	good := telemetry.Report{ID: strings.Repeat("a", 32), Kind: "offered", Hour: "2026-12-05T10:00:00Z", ModelID: "det", Version: "1.0.0", CohortPercent: -1, Rate: 10000}
	mk := func(edit func(*State)) []byte {
		s := State{Format: OutboxFormat, Reports: []telemetry.Report{good}}
		edit(&s)
		data, _ := json.Marshal(s)
		return data
	}
	if _, err := ParseState(mk(func(*State) {}), 10, DefaultMaxBytes); err != nil {
		t.Fatalf("good outbox: %v", err)
	}
	for name, data := range map[string][]byte{
		"format":        mk(func(s *State) { s.Format = "x" }),
		"too many":      mk(func(s *State) { s.Reports = append(s.Reports, good, good) }),
		"duplicate id":  mk(func(s *State) { s.Reports = append(s.Reports, good) }),
		"dropped count": mk(func(s *State) { s.Dropped = &Dropped{ModelID: "det", Version: "1.0.0", Count: 0} }),
		"sampling hash": mk(func(s *State) {
			s.SamplingDoc, s.SamplingSHA256 = []byte(`{"format":"edgetuf-telemetry-v1","default":1}`), strings.Repeat("ab", 32)
		}),
		"sampling invalid": mk(func(s *State) {
			s.SamplingDoc = []byte(`{"format":"x","default":1}`)
			sum := sha256.Sum256(s.SamplingDoc)
			s.SamplingSHA256 = hex.EncodeToString(sum[:])
		}),
		"sha256":        mk(func(s *State) { s.SamplingSHA256 = "ABC" }),
		"cohort":        mk(func(s *State) { s.Active = map[string]Active{"det": {Version: "1.0.0", CohortPercent: 100}} }),
		"unknown field": []byte(`{"format":"edgetuf-outbox-v1","reports":[],"device_id":"x"}`),
	} {
		max := 10
		if name == "too many" {
			max = 2
		}
		if _, err := ParseState(data, max, DefaultMaxBytes); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestTwoDigits: latencies are rounded to two significant digits.
func TestTwoDigits(t *testing.T) {
	for in, want := range map[int64]int64{0: 0, 7: 7, 99: 99, 100: 100, 1234: 1200, 1250: 1300, 98765: 99000, 1 << 31: 2100000000} {
		if got := twoDigits(in); got != want {
			t.Errorf("twoDigits(%d) = %d, want %d", in, got, want)
		}
	}
}
