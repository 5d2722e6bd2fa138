// Package autohalt is the closed loop of fleet telemetry: it decides, from
// a version's fleet report (package fleetreport), whether its staged
// rollout must be halted (Decide, a pure function of the report and the
// operator's thresholds), and watches a version (Watcher), once or at an
// interval, halting it through a Halter when the decision says so. It
// only ever halts: it never widens or resumes a rollout, never touches a
// version that is not in a staged rollout or is halted already, and an
// error reading reports never halts anything. mrepo rollout watch is its
// command (docs/telemetry.md, "Automatic halt: runbook").
package autohalt

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
)

// ErrThresholds: thresholds that cannot be used (a rate outside 0..1, no
// minimum of reports).
var ErrThresholds = errors.New("invalid thresholds")

// Thresholds are when a version is halted: its weighted rollback rate
// above MaxRollbackRate with at least MinReports activated reports
// received, or, with CheckFailures, its weighted failure rate above
// MaxFailureRate with at least MinReports offered reports received.
// Rates are fractions (0.05 is 5%); a rate exactly at its maximum does
// not halt.
type Thresholds struct {
	MaxRollbackRate float64 `json:"max_rollback_rate"`
	CheckFailures   bool    `json:"check_failures"`
	MaxFailureRate  float64 `json:"max_failure_rate,omitempty"`
	MinReports      int64   `json:"min_reports"`
}

// Check reports whether th can be used (ErrThresholds).
func (th Thresholds) Check() error {
	switch {
	case !(th.MaxRollbackRate >= 0 && th.MaxRollbackRate <= 1):
		return fmt.Errorf("%w: max rollback rate %v outside 0..1", ErrThresholds, th.MaxRollbackRate)
	case th.CheckFailures && !(th.MaxFailureRate >= 0 && th.MaxFailureRate <= 1):
		return fmt.Errorf("%w: max failure rate %v outside 0..1", ErrThresholds, th.MaxFailureRate)
	case th.MinReports < 1:
		return fmt.Errorf("%w: min reports %d: at least 1", ErrThresholds, th.MinReports)
	}
	return nil
}

// ParseRate parses a rate given as a percent ("5%", "0.5%") or as a
// fraction ("0.05"), from 0 to 1 (100%).
func ParseRate(s string) (float64, error) {
	num, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(num, 64)
	if err == nil && pct {
		f /= 100
	}
	if err != nil || !(f >= 0 && f <= 1) || strings.ContainsAny(num, "eEnN") {
		return 0, fmt.Errorf("rate %q: want a percent such as 5%% or a fraction from 0 to 1 such as 0.05", s)
	}
	return f, nil
}

// Metrics Decide compares with its thresholds.
const (
	MetricRollback = "rollback_rate"
	MetricFailure  = "failure_rate"
)

// Decision is what Decide found for one version.
type Decision struct {
	Version string `json:"version"`
	// Halt is true when a rate is above its maximum on enough reports;
	// Metric (MetricRollback or MetricFailure) is the one that is.
	Halt   bool   `json:"halt"`
	Metric string `json:"metric,omitempty"`
	// Reason says why, with the point estimate that decided, its 95%
	// confidence interval and the reports behind it: it is recorded as
	// the rollout's signed halt reason.
	Reason       string           `json:"reason"`
	RollbackRate fleetreport.Rate `json:"rollback_rate"`
	FailureRate  fleetreport.Rate `json:"failure_rate"`
	Thresholds   Thresholds       `json:"thresholds"`
}

// Decide decides whether version v's rollout must be halted. It uses the
// rates' point estimates (weighted counts, so sampled successes count as
// the fleet's), and requires the evidence: at least th.MinReports
// reports received behind the rate's denominator (activated reports for
// the rollback rate, offered ones for the failure rate). The rollback
// rate is checked first.
func Decide(v fleetreport.VersionReport, th Thresholds) Decision {
	d := Decision{Version: v.Version, RollbackRate: v.RollbackRate, FailureRate: v.FailureRate, Thresholds: th}
	type check struct {
		metric, name, base string
		rate               fleetreport.Rate
		max                float64
	}
	checks := []check{{MetricRollback, "rollback rate", "activated", v.RollbackRate, th.MaxRollbackRate}}
	if th.CheckFailures {
		checks = append(checks, check{MetricFailure, "failure rate", "offered", v.FailureRate, th.MaxFailureRate})
	}
	var why []string
	for _, c := range checks {
		desc := fmt.Sprintf("%s %s (95%% CI %s-%s) on %d %s reports", c.name, pct(c.rate.Value), pct(c.rate.Low), pct(c.rate.High), c.rate.Reports, c.base)
		switch {
		case c.rate.Reports < th.MinReports:
			why = append(why, fmt.Sprintf("%s: too few to decide (need %d)", desc, th.MinReports))
		case c.rate.Value > c.max:
			d.Halt, d.Metric = true, c.metric
			d.Reason = fmt.Sprintf("automatic halt: %s > max %s", desc, pct(c.max))
			return d
		default:
			why = append(why, fmt.Sprintf("%s <= max %s", desc, pct(c.max)))
		}
	}
	d.Reason = "no halt needed: " + strings.Join(why, "; ")
	return d
}

// pct formats a fraction as a percent with up to two decimals.
func pct(f float64) string {
	return strconv.FormatFloat(math.Round(f*10000)/100, 'f', -1, 64) + "%"
}
