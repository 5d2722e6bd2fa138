package report

import (
	"fmt"
	"strings"

	"github.com/edgetuf/edgetuf/targets"
)

// Controls describes a version's rollout controls, one phrase each, as
// status, verify, add-target and the rollout commands print them.
func Controls(ro *targets.Rollout, rev *targets.Revocation, p *targets.Policy) []string {
	var out []string
	if rev != nil {
		out = append(out, fmt.Sprintf("REVOKED at %s: %s", rev.Time, rev.Reason))
	}
	switch {
	case ro == nil:
		out = append(out, "full release")
	case ro.HaltReason != "":
		out = append(out, fmt.Sprintf("rollout HALTED: %s (cohort salt %s%s)", ro.HaltReason, ro.Salt, rolloutLimits(ro)))
	default:
		out = append(out, fmt.Sprintf("rollout %s%% (cohort salt %s%s)", targets.FormatPercent(ro.BasisPoints), ro.Salt, rolloutLimits(ro)))
	}
	if p != nil {
		out = append(out, "policy: "+policySummary(p))
	}
	return out
}

func rolloutLimits(ro *targets.Rollout) string {
	s := ""
	if len(ro.DeviceClasses) > 0 {
		s += ", device classes " + strings.Join(ro.DeviceClasses, ", ")
	}
	if ro.Start != "" {
		s += ", from " + ro.Start
	}
	return s
}

func policySummary(p *targets.Policy) string {
	var parts []string
	if p.UnmeteredAboveBytes > 0 {
		parts = append(parts, fmt.Sprintf("unmetered network above %d bytes", p.UnmeteredAboveBytes))
	}
	if p.MinBatteryPercent > 0 {
		parts = append(parts, fmt.Sprintf("battery at least %d%% unless charging", p.MinBatteryPercent))
	}
	if len(p.Networks) > 0 {
		parts = append(parts, "networks "+strings.Join(p.Networks, ", "))
	}
	return strings.Join(parts, ", ")
}
