package autohalt

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
)

// TestWatchRefusesImpossibleRates: a source answering a rate no report
// could give (NaN, infinite, negative, above 1, a negative count) makes a
// failed check: nothing is halted and the watch goes on.
func TestWatchRefusesImpossibleRates(t *testing.T) {
	th := Thresholds{MaxRollbackRate: 0.05, MinReports: 100}
	for name, r := range map[string]fleetreport.Rate{
		"NaN":                {Value: math.NaN(), High: 1, Reports: 1000},
		"infinite":           {Value: 1, High: math.Inf(1), Reports: 1000},
		"negative":           {Value: -0.5, High: 1, Reports: 1000},
		"above one":          {Value: 7, High: 7, Reports: 1000},
		"negative count":     {Value: 0.5, High: 1, Reports: -1000},
		"huge count":         {Value: 0.5, High: 1, Reports: math.MaxInt64},
		"outside interval":   {Value: 0.5, Low: 0.9, High: 0.2, Reports: 1000},
		"NaN denominator":    {Value: 0.5, High: 1, Denominator: math.NaN(), Reports: 1000},
		"negative numerator": {Value: 0.5, High: 1, Numerator: -3, Reports: 1000},
	} {
		for _, failureRate := range []bool{false, true} {
			v := fleetreport.VersionReport{Version: "1.1.0", RollbackRate: fleetreport.Rate{High: 1}}
			if failureRate {
				v.FailureRate = r
			} else {
				v.RollbackRate = r
			}
			h := &recordingHalter{answer: halts}
			w := &Watcher{ModelID: "detector", Version: "1.1.0", Thresholds: th, Source: &scriptedSource{answers: []func() (*fleetreport.Report, error){report(v)}}, Halter: h}
			ck := w.Once(context.Background())
			if ck.Outcome != Failed || len(h.reasons) != 0 || !strings.Contains(ck.Detail, "invalid fleet report response") {
				t.Errorf("%s (failure rate %v): %+v, halts %q", name, failureRate, ck, h.reasons)
			}
		}
	}
}

// TestHaltReasonSignable: the reason of a halt, at the extremes of what a
// checked report holds, is short and a valid signed halt reason.
func TestHaltReasonSignable(t *testing.T) {
	th := Thresholds{MaxRollbackRate: 0, CheckFailures: true, MaxFailureRate: 0, MinReports: 1}
	for _, r := range []fleetreport.Rate{
		{Value: 1, Low: 0.123456789, High: 1, Reports: fleetreport.MaxCount},
		{Value: 5e-324, Low: 0, High: 1, Reports: 1},
	} {
		d := Decide(fleetreport.VersionReport{Version: "1.1.0", RollbackRate: r, FailureRate: r}, th)
		if !d.Halt || len(d.Reason) > 200 {
			t.Fatalf("%+v", d)
		}
		change, err := HaltChange(d.Reason)
		if err != nil {
			t.Fatal(err)
		}
		v := &rollout.Version{ModelID: "detector", Version: "1.1.0", Custom: targets.Custom{Rollout: &targets.Rollout{BasisPoints: 500, Salt: strings.Repeat("ab", 16)}}}
		if err := change(v); err != nil {
			t.Fatal(err)
		}
		if err := v.Custom.Rollout.Validate(); err != nil {
			t.Fatalf("reason %q: %v", d.Reason, err)
		}
	}
}
