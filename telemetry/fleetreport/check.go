package fleetreport

import (
	"fmt"
	"math"
	"regexp"

	"github.com/edgetuf/edgetuf/telemetry"
)

// MaxCount bounds a count of reports in a report read from a collector:
// 2^53, beyond which a float64 estimate no longer counts one by one. No
// fleet sends that many.
const MaxCount = 1 << 53

var codePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// CheckVersion checks that a version's report is one Build could have
// made: the funnel and the other kinds complete and in order; every count
// from 0 to MaxCount; every estimate finite and between its reports and
// FullRate times as many (no report weighs less than 1 or more than
// FullRate); the version's reports the sum of its stages', failures by
// code adding up to their stages; each rate the ratio of its stages, in
// [0, 1] within its interval; bytes saved the difference of the bytes.
// A collector that lies in a way Build cannot (NaN, a negative or
// enormous count, a rate that does not follow from its counts) is
// refused: numbers that do not hold together must not decide a halt.
func CheckVersion(v *VersionReport) error {
	if err := checkStages("stages", v.Stages, FunnelKinds); err != nil {
		return err
	}
	if err := checkStages("other", v.Other, OtherKinds); err != nil {
		return err
	}
	stage := map[string]Stage{}
	var total int64
	for _, s := range append(append([]Stage(nil), v.Stages...), v.Other...) {
		stage[s.Kind] = s
		total += s.Reports
	}
	if v.Reports != total {
		return fmt.Errorf("%d reports, but its stages hold %d", v.Reports, total)
	}
	byKind := map[string]int64{}
	for _, f := range v.Failures {
		if f.Kind != telemetry.KindFailed && f.Kind != telemetry.KindRolledBack {
			return fmt.Errorf("a failure of kind %q", oneLine(f.Kind, 32))
		}
		if f.Code != "" && !codePattern.MatchString(f.Code) {
			return fmt.Errorf("failure code %q is not an error code", oneLine(f.Code, 64))
		}
		if err := checkCount(f.Kind+" "+f.Code, f.Reports, f.Estimate); err != nil {
			return err
		}
		byKind[f.Kind] += f.Reports
	}
	for _, k := range []string{telemetry.KindFailed, telemetry.KindRolledBack} {
		if byKind[k] != stage[k].Reports {
			return fmt.Errorf("failures by code hold %d %s reports, its stage %d", byKind[k], k, stage[k].Reports)
		}
	}
	for _, r := range []struct {
		name     string
		rate     Rate
		num, den Stage
	}{
		{"rollback rate", v.RollbackRate, stage[telemetry.KindRolledBack], stage[telemetry.KindActivated]},
		{"failure rate", v.FailureRate, stage[telemetry.KindFailed], stage[telemetry.KindOffered]},
		{"crash rate", v.CrashRate, stage[telemetry.KindCrash], stage[telemetry.KindActivated]},
	} {
		if err := checkRate(r.name, r.rate, r.num, r.den); err != nil {
			return err
		}
	}
	for _, b := range []float64{v.BytesReceived, v.FullBytes} {
		if !(b >= 0 && b <= math.MaxFloat64) {
			return fmt.Errorf("bytes %v out of range", b)
		}
	}
	if !sameFloat(v.BytesSaved, v.FullBytes-v.BytesReceived) {
		return fmt.Errorf("bytes saved %v, but full bytes minus bytes received is %v", v.BytesSaved, v.FullBytes-v.BytesReceived)
	}
	return nil
}

func checkStages(name string, stages []Stage, kinds []string) error {
	if len(stages) != len(kinds) {
		return fmt.Errorf("%d %s, want %d", len(stages), name, len(kinds))
	}
	for i, s := range stages {
		if s.Kind != kinds[i] {
			return fmt.Errorf("%s %d is %q, want %s", name, i, oneLine(s.Kind, 32), kinds[i])
		}
		if err := checkCount(s.Kind, s.Reports, s.Estimate); err != nil {
			return err
		}
	}
	return nil
}

// checkCount: 0 <= reports <= MaxCount, reports <= estimate <=
// FullRate*reports.
func checkCount(what string, reports int64, estimate float64) error {
	if reports < 0 || reports > MaxCount {
		return fmt.Errorf("%s: %d reports, out of 0..2^53", what, reports)
	}
	if !(estimate >= float64(reports)*(1-tolerance) && estimate <= float64(reports)*telemetry.FullRate*(1+tolerance)) {
		return fmt.Errorf("%s: estimate %v does not follow from %d reports", what, estimate, reports)
	}
	return nil
}

func checkRate(name string, r Rate, num, den Stage) error {
	want := 0.0
	if den.Estimate > 0 {
		want = math.Min(math.Max(num.Estimate/den.Estimate, 0), 1)
	}
	switch {
	case r.Reports != den.Reports || !sameFloat(r.Denominator, den.Estimate) || !sameFloat(r.Numerator, num.Estimate):
		return fmt.Errorf("%s of %v/%v on %d reports, but its stages hold %v/%v on %d", name,
			r.Numerator, r.Denominator, r.Reports, num.Estimate, den.Estimate, den.Reports)
	case !sameFloat(r.Value, want):
		return fmt.Errorf("%s %v, but its counts give %v", name, r.Value, want)
	case !(0 <= r.Low && r.Low <= r.Value+tolerance && r.Value <= r.High+tolerance && r.High <= 1):
		return fmt.Errorf("%s %v outside its interval [%v, %v] or [0, 1]", name, r.Value, r.Low, r.High)
	}
	return nil
}

// tolerance is the relative difference of two floats that are the same
// number computed in different orders.
const tolerance = 1e-9

func sameFloat(a, b float64) bool {
	return math.Abs(a-b) <= tolerance*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}
