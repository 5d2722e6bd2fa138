package telemetry

import (
	"net/http"
	"testing"

	"github.com/edgetuf/edgetuf/telemetry"
)

// BenchmarkRecordFullOutbox: recording one report into a full outbox
// (DefaultMaxReports reports): read and parse the outbox, drop the oldest,
// write it back durably (write, fsync, rename, fsync the directory). An
// update run records once; an app reporting latencies pays this per
// ReportSignal.
func BenchmarkRecordFullOutbox(b *testing.B) {
	srv := refusing(b, http.StatusServiceUnavailable)
	r, dir := testRecorder(b, srv.URL, Options{})
	rep := r.base(telemetry.KindLatency, "det", "1.0.0")
	fill := make([]telemetry.Report, DefaultMaxReports)
	for i := range fill {
		fill[i] = rep
		fill[i].ID = newID()
	}
	r.record(fill, func(*State, []telemetry.Report) bool { return false })
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		one := rep
		one.ID = newID()
		r.record([]telemetry.Report{one}, func(*State, []telemetry.Report) bool { return false })
	}
	b.StopTimer()
	s, size := readState(b, dir, r.opts)
	b.ReportMetric(float64(size), "outbox-bytes")
	b.ReportMetric(float64(len(s.Reports)), "reports")
}
