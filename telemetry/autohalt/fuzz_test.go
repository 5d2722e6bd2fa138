package autohalt

import (
	"encoding/json"
	"testing"

	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
)

// FuzzDecide feeds Decide version reports as a collector may answer them
// (any JSON: negative counts, rates out of range; NaN cannot be sent in
// JSON, so the fuzzer's floats are tried too): it never panics, and it
// halts only on a rate above its maximum with enough reports.
func FuzzDecide(f *testing.F) {
	f.Add([]byte(`{"version":"1.1.0","rollback_rate":{"value":0.3,"low":0.25,"high":0.35,"reports":400}}`), 0.05, int64(100))
	f.Add([]byte(`{"version":"1.1.0","rollback_rate":{"value":-1,"reports":-5},"failure_rate":{"value":2,"reports":9e18}}`), 0.0, int64(1))
	f.Fuzz(func(t *testing.T, data []byte, max float64, minReports int64) {
		var v fleetreport.VersionReport
		if json.Unmarshal(data, &v) != nil {
			return
		}
		th := Thresholds{MaxRollbackRate: max, CheckFailures: true, MaxFailureRate: max, MinReports: minReports}
		d := Decide(v, th)
		if !d.Halt {
			return
		}
		r := v.RollbackRate
		if d.Metric == MetricFailure {
			r = v.FailureRate
		}
		if !(r.Value > max) || r.Reports < minReports || d.Reason == "" {
			t.Fatalf("halted on %+v with thresholds %+v: %s", r, th, d.Reason)
		}
	})
}
