package telemetry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/writerlock"
	"github.com/edgetuf/edgetuf/telemetry"
)

// fillOutbox records n reports into r's outbox in one call (kept within
// the bounds), then enough single records to put reports in the journal.
func fillOutbox(t testing.TB, r *Recorder, n int) {
	t.Helper()
	fill := make([]telemetry.Report, n)
	for i := range fill {
		fill[i] = r.base(telemetry.KindLatency, "det", "1.0.0")
	}
	if err := r.record(fill, func(*State, []telemetry.Report) bool { return false }); err != nil {
		t.Fatal(err)
	}
	more := make([]telemetry.Report, 300) // one append of about 70 KiB
	for i := range more {
		more[i] = r.base(telemetry.KindLatency, "det", "1.0.0")
	}
	if err := r.record(more, func(*State, []telemetry.Report) bool { return false }); err != nil {
		t.Fatal(err)
	}
}

// uploadAlloc is the bytes allocated (by the whole process, the test
// collector included) during one upload.
func uploadAlloc(t testing.TB, r *Recorder) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := r.Upload(context.Background()); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestUploadMemoryBounded: an upload's memory depends on the outbox's
// bounds, not on how much was recorded: uploading from an outbox that
// was sent 50 times more reports than it holds allocates about as much as
// from one just full, and both stay within 24 times MaxBytes (two parses and rewrites of
// outbox.json: one to take the batch, one to remove it).
func TestUploadMemoryBounded(t *testing.T) {
	srv := httptest.NewServer(answer(http.StatusOK))
	t.Cleanup(srv.Close)
	var allocs []uint64
	for _, n := range []int{DefaultMaxReports, 50 * DefaultMaxReports} {
		r, dir := testRecorder(t, srv.URL, Options{})
		fillOutbox(t, r, n)
		if s, size := readState(t, dir, r.opts); len(s.Reports) > DefaultMaxReports+300 || size > DefaultMaxBytes {
			t.Fatalf("outbox of %d reports, %d bytes", len(s.Reports), size)
		}
		allocs = append(allocs, uploadAlloc(t, r))
	}
	t.Logf("bytes allocated by one upload: full outbox %d, flooded outbox %d", allocs[0], allocs[1])
	if limit := uint64(24 * DefaultMaxBytes); allocs[0] > limit || allocs[1] > limit {
		t.Fatalf("an upload allocated %v bytes, more than %d", allocs, limit)
	}
	if allocs[1] > allocs[0]*3/2 {
		t.Fatalf("an upload allocates with what was recorded: %d then %d bytes", allocs[0], allocs[1])
	}
}

// TestUploadTimeoutSilentCollector: against a collector that accepts the
// connection and never answers, an upload ends with its (injected)
// timeout and keeps the reports for the next one.
func TestUploadTimeoutSilentCollector(t *testing.T) {
	never := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-never }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(never) }) // runs first: frees the handler so Close returns
	r, dir := testRecorder(t, srv.URL, Options{Timeout: 30 * time.Millisecond})
	ids := latencies(t, r, 2)
	err := r.Upload(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("upload to a silent collector: %v", err)
	}
	in := idsOf(func() *State { s, _ := readState(t, dir, r.opts); return s }())
	if !in[ids[0]] || !in[ids[1]] {
		t.Fatal("reports lost after a timeout")
	}
}

// BenchmarkUploadFullOutbox: one upload from a full outbox (2,000 reports
// in outbox.json, 300 in the journal) to a collector that accepts it:
// merge, compact, send 500 reports, remove them. B/op is the memory bound
// TestUploadMemoryBounded checks.
func BenchmarkUploadFullOutbox(b *testing.B) {
	srv := httptest.NewServer(answer(http.StatusOK))
	b.Cleanup(srv.Close)
	r, _ := testRecorder(b, srv.URL, Options{})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fillOutbox(b, r, DefaultMaxReports)
		b.StartTimer()
		if err := r.Upload(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUploadLockWaitBounded: while another process holds the outbox lock
// (here far longer than lockWait), an upload gives up at its own timeout
// instead of waiting for the lock; the reports stay for the next one.
func TestUploadLockWaitBounded(t *testing.T) {
	srv := httptest.NewServer(answer(http.StatusOK))
	t.Cleanup(srv.Close)
	r, dir := testRecorder(t, srv.URL, Options{Timeout: 30 * time.Millisecond})
	ids := latencies(t, r, 1)
	saved := lockWait
	lockWait = time.Hour // without the timeout's bound the upload would hang
	t.Cleanup(func() { lockWait = saved })
	f, err := os.OpenFile(filepath.Join(dir, Dir, LockFile), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if taken, err := writerlock.Wait(f, time.Now()); !taken || err != nil {
		t.Fatalf("lock not taken: %v", err)
	}
	err = r.Upload(context.Background())
	writerlock.Release(f)
	f.Close()
	if err == nil || !strings.Contains(err.Error(), "holds") {
		t.Fatalf("upload while the lock is held: %v", err)
	}
	lockWait = saved
	if s, _ := readState(t, dir, r.opts); !idsOf(s)[ids[0]] {
		t.Fatal("report lost")
	}
}
