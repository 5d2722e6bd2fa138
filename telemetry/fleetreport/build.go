package fleetreport

import (
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// FunnelKinds are the kinds of a VersionReport's Stages, in funnel order.
var FunnelKinds = []string{telemetry.KindOffered, telemetry.KindDownloaded, telemetry.KindVerified,
	telemetry.KindActivated, telemetry.KindHealthy, telemetry.KindRolledBack, telemetry.KindFailed}

// OtherKinds are the kinds of a VersionReport's Other, in telemetry.Kinds
// order: every kind that is not a funnel step.
var OtherKinds = func() []string {
	var out []string
	for _, k := range telemetry.Kinds {
		if !slices.Contains(FunnelKinds, k) {
			out = append(out, k)
		}
	}
	return out
}()

// z95 is the standard normal quantile of a two-sided 95% interval.
const z95 = 1.959963984540054

// tally sums the reports behind one count (a kind of one version, or of
// one hour): how many were received, what they stand for (the sum of
// their weights, Horvitz-Thompson) and the variance of that estimate due
// to sampling.
type tally struct {
	reports  int64
	weighted float64
	// variance estimates the sampling variance of weighted: a report kept
	// with probability 1/w adds w(w-1) (Bernoulli sampling). A count
	// aggregates reports of equal weight in practice (the rate is per
	// kind); the average weight of a count stands for each of its reports.
	variance float64
}

func (t *tally) add(reports int64, weighted float64) {
	t.reports += reports
	t.weighted += weighted
	if reports > 0 {
		w := weighted / float64(reports)
		t.variance += weighted * (w - 1)
	}
}

// Build makes the fleet report of modelID from the counts a store
// returned for it (store.Store.Counts): one VersionReport per version,
// oldest version first (semantic version order), each with its funnel,
// the kinds outside the funnel, failures by code, rates with their 95%
// intervals and the bytes delta downloads saved. since is the query's
// lower bound (zero: all time). Counts of other models are the caller's
// mistake and are not filtered out.
func Build(modelID string, since time.Time, counts []store.Count) *Report {
	byVersion := map[string][]store.Count{}
	for _, c := range counts {
		byVersion[c.Version] = append(byVersion[c.Version], c)
	}
	r := &Report{ModelID: modelID, Versions: []VersionReport{}}
	if !since.IsZero() {
		r.Since = since.UTC().Format(time.RFC3339)
	}
	for _, v := range sortVersions(slices.Collect(maps.Keys(byVersion))) {
		r.Versions = append(r.Versions, buildVersion(v, byVersion[v]))
	}
	return r
}

func buildVersion(version string, counts []store.Count) VersionReport {
	vr := VersionReport{Version: version}
	kinds := map[string]*tally{}
	type codeKey struct{ kind, code string }
	codes := map[codeKey]*CodeCount{}
	maxWeight := 1.0
	for _, c := range counts {
		vr.Reports += c.Reports
		t := kinds[c.Kind]
		if t == nil {
			t = &tally{}
			kinds[c.Kind] = t
		}
		t.add(c.Reports, c.Weighted)
		if c.Reports > 0 {
			maxWeight = math.Max(maxWeight, c.Weighted/float64(c.Reports))
		}
		if c.Kind == telemetry.KindDownloaded {
			vr.BytesReceived += c.Bytes
			vr.FullBytes += c.FullBytes
		}
		if c.Kind == telemetry.KindFailed || c.Kind == telemetry.KindRolledBack {
			k := codeKey{c.Kind, c.Code}
			cc := codes[k]
			if cc == nil {
				cc = &CodeCount{Kind: c.Kind, Code: c.Code}
				codes[k] = cc
			}
			cc.Reports += c.Reports
			cc.Estimate += c.Weighted
		}
	}
	stage := func(kind string) Stage {
		s := Stage{Kind: kind}
		if t := kinds[kind]; t != nil {
			s.Reports, s.Estimate = t.reports, t.weighted
		}
		return s
	}
	for _, k := range FunnelKinds {
		vr.Stages = append(vr.Stages, stage(k))
	}
	for _, k := range OtherKinds {
		vr.Other = append(vr.Other, stage(k))
	}
	for _, cc := range codes {
		vr.Failures = append(vr.Failures, *cc)
	}
	sort.Slice(vr.Failures, func(i, j int) bool {
		a, b := vr.Failures[i], vr.Failures[j]
		if a.Kind != b.Kind {
			return slices.Index(FunnelKinds, a.Kind) < slices.Index(FunnelKinds, b.Kind)
		}
		if a.Estimate != b.Estimate {
			return a.Estimate > b.Estimate
		}
		return a.Code < b.Code
	})
	get := func(kind string) tally {
		if t := kinds[kind]; t != nil {
			return *t
		}
		return tally{}
	}
	vr.RollbackRate = ratio(get(telemetry.KindRolledBack), get(telemetry.KindActivated), maxWeight)
	vr.FailureRate = ratio(get(telemetry.KindFailed), get(telemetry.KindOffered), maxWeight)
	vr.CrashRate = ratio(get(telemetry.KindCrash), get(telemetry.KindActivated), maxWeight)
	vr.BytesSaved = vr.FullBytes - vr.BytesReceived
	return vr
}

// ratio is the rate num/den of two independently sampled counts with its
// 95% Wilson score interval on the effective sample size (docs/
// telemetry.md, "Reports and the dashboard").
//
// The rate estimates p, the probability that a device of the version
// does num's step given den's (rolls back once activated). Unsampled, num
// out of den is binomial and the Wilson interval on n = den applies. With
// sampling, both counts are Horvitz-Thompson estimates (the sum of the
// weights of the reports kept), each with its own sampling variance
// (tally.variance). By the delta method the variance of p̂ = N/D is
//
//	p(1-p)/D + (Var N + p² Var D)/D²
//
// that is the binomial variance times a design effect
// deff = 1 + (a + p·b)/(1-p), where a = Var N/N and b = Var D/D are the
// excess weights (w-1) of the numerator's and the denominator's reports.
// The effective sample size is n = D/deff = D(1-p)/(1-p+a+p·b): the
// number of unsampled trials that would give the same precision, on which
// the Wilson interval is computed. Without sampling (a = b = 0) it is
// exactly the Wilson interval on D trials. When no numerator report was
// received, its weight is unknown and the largest weight seen in the
// version (maxWeight) stands for it, so that "no rollback seen in a 10%
// sample" is not read as "no rollback". The value is clamped to [0, 1]:
// sampling noise can make the estimated numerator exceed the estimated
// denominator. No denominator report: value 0, interval [0, 1].
func ratio(num, den tally, maxWeight float64) Rate {
	r := Rate{Numerator: num.weighted, Denominator: den.weighted, Reports: den.reports, High: 1}
	if den.weighted <= 0 {
		return r
	}
	p := math.Min(math.Max(num.weighted/den.weighted, 0), 1)
	a := maxWeight - 1
	if num.weighted > 0 {
		a = num.variance / num.weighted
	}
	b := den.variance / den.weighted
	n := den.weighted
	if a+b > 0 {
		n = den.weighted * (1 - p) / (1 - p + a + p*b)
	}
	r.Value = p
	r.Low, r.High = wilson(p, n)
	return r
}

// wilson is the 95% Wilson score interval of a proportion p observed on n
// trials (n may be fractional: an effective sample size). n = 0 is no
// evidence: [0, 1].
func wilson(p, n float64) (low, high float64) {
	if n <= 0 {
		return 0, 1
	}
	z2 := z95 * z95
	denom := 1 + z2/n
	centre := (p + z2/(2*n)) / denom
	half := z95 / denom * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	return math.Max(0, centre-half), math.Min(1, centre+half)
}

// sortVersions orders versions by semantic version precedence, oldest
// first; what does not parse (never from a checked report) goes last, in
// string order.
func sortVersions(versions []string) []string {
	sort.Slice(versions, func(i, j int) bool { return versionLess(versions[i], versions[j]) })
	return versions
}

func versionLess(a, b string) bool {
	va, errA := targets.ParseVersion(a)
	vb, errB := targets.ParseVersion(b)
	switch {
	case errA != nil || errB != nil:
		if (errA == nil) != (errB == nil) {
			return errA == nil
		}
		return a < b
	case va.Compare(vb) != 0:
		return va.Compare(vb) < 0
	}
	return a < b // equal precedence (build metadata): a stable order
}
