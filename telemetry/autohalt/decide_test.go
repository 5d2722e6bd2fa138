package autohalt

import (
	"errors"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
)

// version is a VersionReport with the given rates (fractions) and the
// reports received behind their denominators (the interval half to twice
// the rate, at most 1).
func version(rollback float64, activated int64, failure float64, offered int64) fleetreport.VersionReport {
	return fleetreport.VersionReport{Version: "1.1.0",
		RollbackRate: fleetreport.Rate{Value: rollback, Low: rollback / 2, High: min(1, rollback*2), Reports: activated},
		FailureRate:  fleetreport.Rate{Value: failure, Low: failure / 2, High: min(1, failure*2), Reports: offered}}
}

func TestDecide(t *testing.T) {
	th := Thresholds{MaxRollbackRate: 0.05, MinReports: 100}
	thF := Thresholds{MaxRollbackRate: 0.05, CheckFailures: true, MaxFailureRate: 0.10, MinReports: 100}
	for _, tc := range []struct {
		name   string
		v      fleetreport.VersionReport
		th     Thresholds
		halt   bool
		metric string
		reason string
	}{
		{"above R with enough reports", version(0.30, 412, 0, 500), th, true, MetricRollback, "rollback rate 30% (95% CI 15%-60%) on 412 activated reports > max 5%"},
		{"exactly at R does not halt", version(0.05, 1000, 0, 1000), th, false, "", "rollback rate 5% (95% CI 2.5%-10%) on 1000 activated reports <= max 5%"},
		{"just above R halts", version(0.0501, 1000, 0, 1000), th, true, MetricRollback, "5.01%"},
		{"below MinReports does not halt", version(0.90, 99, 0, 1000), th, false, "", "on 99 activated reports: too few to decide (need 100)"},
		{"exactly MinReports is enough", version(0.90, 100, 0, 1000), th, true, MetricRollback, "on 100 activated reports"},
		// A sampled fleet: 40 reports received stand for 400 activations
		// (weights 10): the rate is the weighted one, the evidence the
		// reports received.
		{"weighted rate, received reports as evidence", fleetreport.VersionReport{Version: "1.1.0",
			RollbackRate: fleetreport.Rate{Value: 0.2, Numerator: 80, Denominator: 400, Reports: 40}}, th, false, "", "on 40 activated reports: too few"},
		{"failure rate not checked without CheckFailures", version(0, 1000, 0.9, 1000), th, false, "", "no halt needed: rollback rate 0%"},
		{"failure rate above F halts", version(0.01, 1000, 0.25, 1000), thF, true, MetricFailure, "failure rate 25% (95% CI 12.5%-50%) on 1000 offered reports > max 10%"},
		{"failure rate exactly F does not halt", version(0.01, 1000, 0.10, 1000), thF, false, "", "failure rate 10%"},
		{"failure rate with too few offered", version(0.01, 1000, 0.5, 10), thF, false, "", "on 10 offered reports: too few"},
		{"rollback decides first", version(0.5, 1000, 0.5, 1000), thF, true, MetricRollback, "rollback rate 50%"},
		{"no reports at all", fleetreport.VersionReport{Version: "1.1.0"}, th, false, "", "on 0 activated reports: too few"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.v, tc.th)
			if d.Halt != tc.halt || d.Metric != tc.metric {
				t.Fatalf("halt %v metric %q, want %v %q (%s)", d.Halt, d.Metric, tc.halt, tc.metric, d.Reason)
			}
			if !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", d.Reason, tc.reason)
			}
			if d.Version != "1.1.0" || d.Thresholds != tc.th {
				t.Errorf("decision %+v does not carry the version and thresholds", d)
			}
		})
	}
}

func TestThresholdsCheck(t *testing.T) {
	for _, th := range []Thresholds{
		{MaxRollbackRate: -0.1, MinReports: 1},
		{MaxRollbackRate: 1.5, MinReports: 1},
		{MaxRollbackRate: 0.05, MinReports: 0},
		{MaxRollbackRate: 0.05, MinReports: 10, CheckFailures: true, MaxFailureRate: 2},
	} {
		if err := th.Check(); !errors.Is(err, ErrThresholds) {
			t.Errorf("%+v: %v, want ErrThresholds", th, err)
		}
	}
	if err := (Thresholds{MaxRollbackRate: 0, MinReports: 1}).Check(); err != nil {
		t.Errorf("rate 0 (any rollback halts): %v", err)
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"5%": 0.05, "0.05": 0.05, "0.5%": 0.005, "100%": 1, "0": 0, "1": 1, " 12.5% ": 0.125} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "5", "101%", "-1%", "abc", "NaN", "Inf", "1e-2", "%", "5%%"} {
		if got, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %v, want an error", in, got)
		}
	}
}
