package fleetreport

import (
	"fmt"
	"math"
	"strconv"
)

// The formats below are shared by mrepo rollout report and the dashboard
// so that both print a number the same way.

// FormatCount is an estimate for people: a whole number when it is one
// (or large), else one decimal.
func FormatCount(v float64) string {
	if v == math.Trunc(v) || math.Abs(v) >= 1000 {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// FormatExact is a number exactly as computed (shortest representation
// that reads back the same): what machines and tests compare.
func FormatExact(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// FormatPercent is a proportion as a percentage with two decimals.
func FormatPercent(p float64) string { return strconv.FormatFloat(100*p, 'f', 2, 64) + "%" }

// FormatRate is a rate and its interval: "10.00% (5.15%-18.51%)", or
// "n/a" when nothing was received behind its denominator.
func FormatRate(r Rate) string {
	if r.Denominator <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s (%s-%s)", FormatPercent(r.Value), FormatPercent(r.Low), FormatPercent(r.High))
}

// FormatBytes is a (weighted) byte count with binary units: "1.5 GiB".
func FormatBytes(v float64) string {
	const units = "KMGTPE"
	neg := v < 0
	v = math.Abs(v)
	s := strconv.FormatFloat(math.Round(v), 'f', -1, 64) + " B"
	for i := 0; v >= 1024 && i < len(units); i++ {
		v /= 1024
		s = strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i:i+1] + "iB"
	}
	if neg {
		s = "-" + s
	}
	return s
}
