package fleetreport

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// near fails unless got is want to 1e-9 (relative to its size).
func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.12g, want %.12g", what, got, want)
	}
}

func nearRate(t *testing.T, what string, got Rate, value, low, high float64) {
	t.Helper()
	near(t, what+".Value", got.Value, value)
	near(t, what+".Low", got.Low, low)
	near(t, what+".High", got.High, high)
}

// unsampled is a count of n reports kept at the full rate.
func unsampled(version, kind, code string, n int64) store.Count {
	return store.Count{Version: version, Kind: kind, Code: code, Reports: n, Weighted: float64(n)}
}

// TestBuildUnsampled: every report kept, so estimates are the counts and
// the intervals are the textbook Wilson intervals (8 of 80: 5.15% to
// 18.51%), versions in semantic version order (1.9.0 before 1.10.0, a
// pre-release before its release), failures by kind then size.
func TestBuildUnsampled(t *testing.T) {
	const v = "1.10.0"
	counts := []store.Count{
		unsampled(v, telemetry.KindOffered, "", 100),
		{Version: v, Kind: telemetry.KindDownloaded, Method: telemetry.MethodDelta, Reports: 60, Weighted: 60, Bytes: 6000, FullBytes: 60000},
		{Version: v, Kind: telemetry.KindDownloaded, Method: telemetry.MethodFull, Reports: 30, Weighted: 30, Bytes: 30000, FullBytes: 30000},
		unsampled(v, telemetry.KindVerified, "", 90),
		unsampled(v, telemetry.KindActivated, "", 80),
		unsampled(v, telemetry.KindHealthy, "", 70),
		unsampled(v, telemetry.KindRolledBack, "CRASH_LOOP", 2),
		unsampled(v, telemetry.KindRolledBack, "HEALTH_CHECK_FAILED", 6),
		unsampled(v, telemetry.KindFailed, "HASH_MISMATCH", 10),
		unsampled(v, telemetry.KindCrash, "", 3),
		unsampled("1.9.0", telemetry.KindOffered, "", 5),
		unsampled("2.0.0", telemetry.KindOffered, "", 1),
		unsampled("2.0.0-rc.1", telemetry.KindOffered, "", 1),
	}
	since := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r := Build("detector", since, counts)
	if r.ModelID != "detector" || r.Since != "2026-12-01T00:00:00Z" {
		t.Fatalf("model %q since %q", r.ModelID, r.Since)
	}
	var order []string
	for _, vr := range r.Versions {
		order = append(order, vr.Version)
	}
	if want := []string{"1.9.0", "1.10.0", "2.0.0-rc.1", "2.0.0"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("versions %v, want %v", order, want)
	}
	vr := r.Versions[1]
	if vr.Reports != 100+90+90+80+70+8+10+3 {
		t.Errorf("reports %d", vr.Reports)
	}
	wantStages := []Stage{{"offered", 100, 100}, {"downloaded", 90, 90}, {"verified", 90, 90},
		{"activated", 80, 80}, {"healthy", 70, 70}, {"rolled_back", 8, 8}, {"failed", 10, 10}}
	if !reflect.DeepEqual(vr.Stages, wantStages) {
		t.Errorf("stages %+v", vr.Stages)
	}
	wantOther := []Stage{{"deferred", 0, 0}, {"revoked", 0, 0}, {"crash", 3, 3}, {"latency", 0, 0}, {"dropped", 0, 0}}
	if !reflect.DeepEqual(vr.Other, wantOther) {
		t.Errorf("other %+v", vr.Other)
	}
	wantFailures := []CodeCount{{"rolled_back", "HEALTH_CHECK_FAILED", 6, 6}, {"rolled_back", "CRASH_LOOP", 2, 2},
		{"failed", "HASH_MISMATCH", 10, 10}}
	if !reflect.DeepEqual(vr.Failures, wantFailures) {
		t.Errorf("failures %+v", vr.Failures)
	}
	nearRate(t, "rollback", vr.RollbackRate, 0.1, 0.05154761556738083, 0.18510688806104086)
	nearRate(t, "failure", vr.FailureRate, 0.1, 0.0552291370606751, 0.17436566150491345)
	if vr.RollbackRate.Numerator != 8 || vr.RollbackRate.Denominator != 80 || vr.RollbackRate.Reports != 80 {
		t.Errorf("rollback rate %+v", vr.RollbackRate)
	}
	near(t, "crash", vr.CrashRate.Value, 3.0/80)
	near(t, "bytes received", vr.BytesReceived, 36000)
	near(t, "full bytes", vr.FullBytes, 90000)
	near(t, "bytes saved", vr.BytesSaved, 54000)
	// A version with no activation: no evidence of its rollback rate.
	if got := r.Versions[0].RollbackRate; got != (Rate{High: 1}) {
		t.Errorf("rate without activations %+v, want [0, 1]", got)
	}
}

// TestBuildSampled: activations kept at 10% (10 reports stand for 100)
// and rollbacks at 100% (30): p̂ = 0.3 on an effective sample size of
// 100·0.7/(0.7+0.3·9) = 20.59, not 100, so the interval is wide. No
// rollback report in a 10% sample is not proof of none: the largest weight
// seen stands for the missing numerator's (n = 10).
func TestBuildSampled(t *testing.T) {
	counts := []store.Count{
		{Version: "1.0.0", Kind: telemetry.KindActivated, Reports: 10, Weighted: 100},
		{Version: "1.0.0", Kind: telemetry.KindRolledBack, Code: "HEALTH_CHECK_FAILED", Reports: 30, Weighted: 30},
		{Version: "2.0.0", Kind: telemetry.KindActivated, Reports: 10, Weighted: 100},
		{Version: "3.0.0", Kind: telemetry.KindActivated, Reports: 1, Weighted: 10},
		{Version: "3.0.0", Kind: telemetry.KindRolledBack, Reports: 20, Weighted: 20},
	}
	r := Build("detector", time.Time{}, counts)
	if r.Since != "" || len(r.Versions) != 3 {
		t.Fatalf("report %+v", r)
	}
	nearRate(t, "sampled", r.Versions[0].RollbackRate, 0.3, 0.14702947804941568, 0.5158687113857937)
	nearRate(t, "none seen", r.Versions[1].RollbackRate, 0, 0, 0.2775327998628892)
	// 20 rollbacks for an estimated 10 activations: sampling noise; the
	// rate is clamped to 1 and, resting on one report, says nothing.
	if got := r.Versions[2].RollbackRate; got.Value != 1 || got.Low != 0 || got.High != 1 || got.Numerator != 20 {
		t.Errorf("noisy rate %+v", got)
	}
}

// TestBuildEmpty: no counts, an empty (not null) versions list.
func TestBuildEmpty(t *testing.T) {
	r := Build("detector", time.Time{}, nil)
	if r.Versions == nil || len(r.Versions) != 0 {
		t.Fatalf("versions %#v", r.Versions)
	}
}

// TestIntervalCoverage simulates a fleet many times: n devices activate
// a version, each rolls back with probability p; activations are kept at
// 10% and rollbacks at 100% (the recommended sampling), or both at 10%.
// The 95% interval must contain p in about 95% of the trials: between 93%
// and 97% of 2,000 (a seeded generator: the result is the same on every
// run). The same trials unsampled check the plain Wilson interval.
func TestIntervalCoverage(t *testing.T) {
	const trials, devices, p = 2000, 3000, 0.2
	for _, tc := range []struct {
		name                string
		successRate, failRt int // basis points
	}{
		{"unsampled", 10000, 10000},
		{"success 10% failure 100%", 1000, 10000},
		{"everything 10%", 1000, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(13, uint64(tc.successRate)*7+uint64(tc.failRt)))
			covered := 0
			for range trials {
				var act, rb int64
				for range devices {
					if rng.IntN(10000) < tc.successRate {
						act++
					}
					if rng.Float64() < p && rng.IntN(10000) < tc.failRt {
						rb++
					}
				}
				wAct := float64(telemetry.FullRate) / float64(tc.successRate)
				wRb := float64(telemetry.FullRate) / float64(tc.failRt)
				rate := Build("m", time.Time{}, []store.Count{
					{Version: "1.0.0", Kind: telemetry.KindActivated, Reports: act, Weighted: float64(act) * wAct},
					{Version: "1.0.0", Kind: telemetry.KindRolledBack, Reports: rb, Weighted: float64(rb) * wRb},
				}).Versions[0].RollbackRate
				if rate.Low <= p && p <= rate.High {
					covered++
				}
			}
			share := float64(covered) / trials
			t.Logf("coverage %.4f", share)
			if share < 0.93 || share > 0.97 {
				t.Errorf("the 95%% interval covered p in %.2f%% of %d trials", 100*share, trials)
			}
		})
	}
}

// TestRollbackSeries: the cumulative rate per hour, per version; hours
// with other kinds only add no point.
func TestRollbackSeries(t *testing.T) {
	h := func(i int) time.Time { return time.Date(2026, 12, 5, i, 0, 0, 0, time.UTC) }
	points := []store.Point{
		{Hour: h(0), Version: "1.0.0", Kind: telemetry.KindActivated, Reports: 10, Weighted: 10},
		{Hour: h(0), Version: "1.0.0", Kind: telemetry.KindOffered, Reports: 10, Weighted: 10},
		{Hour: h(1), Version: "1.0.0", Kind: telemetry.KindActivated, Reports: 10, Weighted: 10},
		{Hour: h(1), Version: "1.0.0", Kind: telemetry.KindRolledBack, Reports: 5, Weighted: 5},
		{Hour: h(2), Version: "1.0.0", Kind: telemetry.KindOffered, Reports: 1, Weighted: 1},
		{Hour: h(2), Version: "0.9.0", Kind: telemetry.KindOffered, Reports: 1, Weighted: 1},
	}
	s := RollbackSeries(points)
	if len(s) != 2 || s[0].Version != "0.9.0" || len(s[0].Points) != 0 || s[1].Version != "1.0.0" {
		t.Fatalf("series %+v", s)
	}
	got := s[1].Points
	if len(got) != 2 || !got[0].Hour.Equal(h(0)) || !got[1].Hour.Equal(h(1)) {
		t.Fatalf("points %+v", got)
	}
	near(t, "hour 0", got[0].Rate.Value, 0)
	near(t, "hour 1", got[1].Rate.Value, 0.25)
	// The last point is the report's rate over the same reports.
	full := Build("m", time.Time{}, []store.Count{
		unsampled("1.0.0", telemetry.KindActivated, "", 20), unsampled("1.0.0", telemetry.KindRolledBack, "", 5),
	}).Versions[0].RollbackRate
	if got[1].Rate != full {
		t.Errorf("last point %+v, report %+v", got[1].Rate, full)
	}
}

func TestFormat(t *testing.T) {
	for got, want := range map[string]string{
		FormatCount(12):       "12",
		FormatCount(12.25):    "12.2",
		FormatCount(1234.6):   "1235",
		FormatExact(0.1):      "0.1",
		FormatPercent(0.1):    "10.00%",
		FormatRate(Rate{}):    "n/a",
		FormatBytes(0):        "0 B",
		FormatBytes(1536):     "1.5 KiB",
		FormatBytes(-3 << 30): "-3.0 GiB",
		FormatRate(Rate{Value: 0.1, Low: 0.0515, High: 0.1851, Denominator: 80}): "10.00% (5.15%-18.51%)",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
