package fleetreport

import (
	"maps"
	"math"
	"slices"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// VersionSeries is one version's rollback rate over time.
type VersionSeries struct {
	Version string        `json:"version"`
	Points  []SeriesPoint `json:"points"`
}

// SeriesPoint is the rollback rate of the reports up to the end of Hour
// (cumulative from the query's start): what the rate read at that time,
// which is what an operator and mrepo rollout watch saw then.
type SeriesPoint struct {
	Hour time.Time `json:"hour"`
	Rate Rate      `json:"rate"`
}

// RollbackSeries makes the cumulative rollback rate (rolled_back /
// activated, estimated as in Build) of each version from the points a
// store returned (store.Store.Series, oldest hour first): one point per
// hour that has activated or rolled-back reports (a version without any
// has no points). Versions are in semantic
// version order.
func RollbackSeries(points []store.Point) []VersionSeries {
	type acc struct {
		num, den  tally
		maxWeight float64
		points    []SeriesPoint
	}
	// The largest weight of any kind, as Build takes it (see ratio).
	byVersion := map[string]*acc{}
	for _, p := range points {
		a := byVersion[p.Version]
		if a == nil {
			a = &acc{maxWeight: 1}
			byVersion[p.Version] = a
		}
		if p.Reports > 0 {
			a.maxWeight = math.Max(a.maxWeight, p.Weighted/float64(p.Reports))
		}
	}
	for _, p := range points {
		a := byVersion[p.Version]
		switch p.Kind {
		case telemetry.KindActivated:
			a.den.add(p.Reports, p.Weighted)
		case telemetry.KindRolledBack:
			a.num.add(p.Reports, p.Weighted)
		default:
			continue
		}
		rate := ratio(a.num, a.den, a.maxWeight)
		if n := len(a.points); n > 0 && a.points[n-1].Hour.Equal(p.Hour) {
			a.points[n-1].Rate = rate
		} else {
			a.points = append(a.points, SeriesPoint{Hour: p.Hour.UTC(), Rate: rate})
		}
	}
	out := []VersionSeries{}
	for _, v := range sortVersions(slices.Collect(maps.Keys(byVersion))) {
		out = append(out, VersionSeries{Version: v, Points: byVersion[v].points})
	}
	return out
}
