package fleetsim

import (
	"math"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/autohalt"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// maxRollbackRate is the watch's threshold: V2 rolls back on about 30%.
const maxRollbackRate = 0.10

// checkUploads checks that every report uploaded so far was accepted,
// once (no duplicate, no refusal), and that only the devices mayReportV2
// admits sent reports about V2; it returns how many reports about V2
// were uploaded.
func checkUploads(t *testing.T, f *Fleet, mayReportV2 func(device int) bool) int {
	t.Helper()
	uploads, _ := f.Collector.Uploads().Reports()
	v2 := 0
	for _, u := range uploads {
		if u.Version != V2 {
			continue
		}
		if !mayReportV2(u.Device) {
			t.Fatalf("device %d (canary %v) sent a %s report about %s", u.Device, u.Device >= 0 && f.Canary(u.Device), u.Kind, V2)
		}
		v2++
	}
	st := f.Collector.Stats()
	if st.Accepted != int64(len(uploads)) || st.Duplicates != 0 || st.RejectedInvalid+st.RejectedSize+st.RejectedType+st.RateLimited+st.StoreErrors != 0 {
		t.Fatalf("%d reports uploaded, collector counters %+v: want every one accepted once", len(uploads), st)
	}
	return v2
}

// watch runs the automatic halt on what the first wave reported, whose
// canary had canary devices: with more reports required than the canary
// can have sent, it leaves V2 alone; with enough, it halts V2 with its
// reason, signed; run again, it finds V2 halted and changes nothing.
//
// The evidence required (MinReports, counted on activated reports, which
// are sampled at 10%) is half of what the canary is expected to send:
// about 13 of 26 expected at 10,000 devices, 1 of about 2.6 with -short.
// Each device's sampling draw is seeded, so the count is the same in
// every run.
func watch(t *testing.T, f *Fleet, canary int) {
	t.Helper()
	few := autohalt.Thresholds{MaxRollbackRate: maxRollbackRate, MinReports: int64(canary) + 1}
	if ck := f.Watch(t, few); ck.Outcome != autohalt.NoHaltNeeded || ck.Decision == nil || ck.Decision.Halt {
		t.Fatalf("watch needing %d reports: %+v, want no halt", few.MinReports, ck)
	}
	if ro := f.Rollout(t); ro == nil || ro.BasisPoints != f.cfg.CanaryBasisPoints {
		t.Fatalf("after a watch that needed more reports, V2's rollout is %+v", ro)
	}
	th := autohalt.Thresholds{MaxRollbackRate: maxRollbackRate, MinReports: int64(max(1, canary*successRate/telemetry.FullRate/2))}
	ck := f.Watch(t, th)
	if ck.Outcome != autohalt.Halted || ck.Decision == nil || !ck.Decision.Halt || ck.Decision.Metric != autohalt.MetricRollback {
		t.Fatalf("watch %+v: %+v, want V2 halted for its rollback rate", th, ck)
	}
	ro := f.Rollout(t)
	if ro == nil || ro.BasisPoints != 0 || ro.HaltReason != ck.Decision.Reason {
		t.Fatalf("after the watch, V2's signed rollout is %+v, want halted with the reason %q", ro, ck.Decision.Reason)
	}
	t.Logf("watch (max rollback rate %v, min reports %d): %s: %s", th.MaxRollbackRate, th.MinReports, ck.Outcome, ck.Decision.Reason)
	if again := f.Watch(t, th); again.Outcome != autohalt.AlreadyHalted {
		t.Fatalf("second watch: %+v, want already halted", again)
	}
}

// checkReport checks the collector's report on V2 (read as mrepo rollout
// report --collector reads it) against the simulation's funnel, whose
// canary had canary devices:
//   - rolled back is sampled at 100%: its count is exact, and it is the
//     only failure (code HEALTHCHECK_FAILED);
//   - offered ... healthy are sampled at 10% (p): each of the funnel's N
//     reports is kept with probability p, so the weighted estimate X/p
//     (X kept) has standard error sqrt(N(1-p)/p), 3*sqrt(N) at 10%. The
//     estimate must be within 3 standard errors of N (a 99.7% interval;
//     the seeded draws make the test deterministic, and the margin keeps
//     it valid for any fleet size FLEETSIM_DEVICES gives);
//   - the rollback rate's 95% interval holds the simulation's own rate
//     (rolled back / canary, about 31%);
//   - no other kind was reported about V2.
func checkReport(t *testing.T, f *Fleet, funnel map[string]int, canary int) {
	t.Helper()
	rep, err := f.Collector.Source().Report(t.Context(), store.Query{ModelID: ModelID, Version: V2})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Versions) != 1 {
		t.Fatalf("report on %s: %d versions", V2, len(rep.Versions))
	}
	vr := rep.Versions[0]
	const p = float64(successRate) / telemetry.FullRate
	var received int64
	for _, st := range vr.Stages {
		received += st.Reports
		want := funnel[st.Kind]
		switch st.Kind {
		case telemetry.KindRolledBack:
			if st.Reports != int64(want) || st.Estimate != float64(want) {
				t.Fatalf("%s: %d reports, estimate %v, want exactly %d", st.Kind, st.Reports, st.Estimate, want)
			}
		case telemetry.KindOffered, telemetry.KindDownloaded, telemetry.KindVerified, telemetry.KindActivated, telemetry.KindHealthy:
			se := math.Sqrt(float64(want) * (1 - p) / p)
			if st.Estimate != float64(st.Reports)/p || math.Abs(st.Estimate-float64(want)) > 3*se {
				t.Fatalf("%s: %d reports, estimate %v, want %d within 3 standard errors (%.1f)", st.Kind, st.Reports, st.Estimate, want, 3*se)
			}
			t.Logf("%s: %d reports, estimate %v, simulation %d (%+.2f standard errors)", st.Kind, st.Reports, st.Estimate, want, (st.Estimate-float64(want))/se)
		default:
			if st.Reports != 0 || want != 0 {
				t.Fatalf("%s: %d reports, simulation %d, want none", st.Kind, st.Reports, want)
			}
		}
	}
	for _, st := range vr.Other {
		received += st.Reports
		if st.Reports != 0 {
			t.Fatalf("%s: %d reports about %s, want none", st.Kind, st.Reports, V2)
		}
	}
	rb := funnel[telemetry.KindRolledBack]
	wantFailures := []fleetreport.CodeCount{{Kind: telemetry.KindRolledBack, Code: string(client.HealthcheckFailed), Reports: int64(rb), Estimate: float64(rb)}}
	if len(vr.Failures) != 1 || vr.Failures[0] != wantFailures[0] {
		t.Fatalf("failures %+v, want %+v", vr.Failures, wantFailures)
	}
	if vr.Reports != received {
		t.Fatalf("report counts %d reports, its stages %d", vr.Reports, received)
	}
	truth := float64(rb) / float64(canary)
	if r := vr.RollbackRate; !(r.Low <= truth && truth <= r.High) {
		t.Fatalf("rollback rate %+v: its 95%% interval misses the simulation's %.3f", r, truth)
	}
	t.Logf("rollback rate %.3f (95%% CI %.3f-%.3f), simulation %.3f; %d reports about %s", vr.RollbackRate.Value, vr.RollbackRate.Low, vr.RollbackRate.High, truth, received, V2)
}
