// Package fleetreport turns stored telemetry aggregates into what
// operators read and what the automatic halt decides on: per version, the
// update funnel (offered, downloaded, verified, activated, healthy,
// rolled back, failed by code) as received and as weighted estimates,
// rates with 95% confidence intervals, and delta bytes saved.
// mrepo rollout report prints it, the collector's dashboard and
// /v1/report serve it, and mrepo rollout watch acts on it.
package fleetreport

import (
	"context"

	"github.com/edgetuf/edgetuf/telemetry/store"
)

// Report is the fleet report of one model.
type Report struct {
	ModelID string `json:"model_id"`
	// Since (RFC 3339) is the query's lower bound, "" for all time.
	Since    string          `json:"since,omitempty"`
	Versions []VersionReport `json:"versions"`
}

// VersionReport is one version's funnel and rates.
type VersionReport struct {
	Version string `json:"version"`
	// Reports is how many reports were received about the version.
	Reports int64 `json:"reports"`
	// Stages is the funnel in order (telemetry.KindOffered ...
	// KindFailed), one entry per kind, zero counts included.
	Stages []Stage `json:"stages"`
	// Failures counts failed and rolled-back reports by error code.
	Failures []CodeCount `json:"failures,omitempty"`
	// Other counts the kinds outside the funnel (deferred, revoked,
	// crash, latency, dropped), in telemetry.Kinds order, zero counts
	// included.
	Other []Stage `json:"other"`
	// RollbackRate is rolled_back / activated; FailureRate is failed /
	// offered; CrashRate is crash / activated (weighted counts).
	RollbackRate Rate `json:"rollback_rate"`
	FailureRate  Rate `json:"failure_rate"`
	CrashRate    Rate `json:"crash_rate"`
	// Downloads: weighted bytes received, and what full downloads of the
	// same versions would have transferred.
	BytesReceived float64 `json:"bytes_received"`
	FullBytes     float64 `json:"full_bytes"`
	BytesSaved    float64 `json:"bytes_saved"`
}

// Stage is one step of the funnel.
type Stage struct {
	Kind string `json:"kind"`
	// Reports received; Estimate, the weighted count (what the fleet did).
	Reports  int64   `json:"reports"`
	Estimate float64 `json:"estimate"`
}

// CodeCount is one error code's count in a version's failures.
type CodeCount struct {
	Kind     string  `json:"kind"`
	Code     string  `json:"code"`
	Reports  int64   `json:"reports"`
	Estimate float64 `json:"estimate"`
}

// Rate is a ratio of weighted counts with its 95% confidence interval
// (Low, High). Reports is the number of reports received behind the
// denominator: how much evidence the rate rests on.
type Rate struct {
	Value       float64 `json:"value"`
	Low         float64 `json:"low"`
	High        float64 `json:"high"`
	Numerator   float64 `json:"numerator"`
	Denominator float64 `json:"denominator"`
	Reports     int64   `json:"reports"`
}

// Source answers fleet reports: a store read in process, or a collector
// over HTTP (its /v1/report endpoint).
type Source interface {
	Report(ctx context.Context, q store.Query) (*Report, error)
}
