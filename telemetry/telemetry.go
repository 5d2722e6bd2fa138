// Package telemetry is the wire format of fleet telemetry: the update
// reports a device sends to a collector (Report, Batch) and the signed
// sampling configuration that says which share of each kind of report a
// device sends (Sampling). Devices (package client) build and send
// batches; the collector (telemetry/collector) parses them with
// ParseBatch, which is strict and bounded because every byte of a batch is
// untrusted.
//
// A report carries only what the seed allows (docs/telemetry.md has the
// field table): the model and version, the state transition, an error
// code, delta or full and bytes, a duration bucket, a coarse device class,
// OS and app version, the cohort bucket rounded to 1%, the hour it
// happened, and a random per-report ID used only to drop retried
// duplicates. There is no device ID, no host name, no path and no free
// text: a field that could carry one does not exist.
//
// It must never import the repository writer, key storage, the client or
// the collector: both sides import it.
package telemetry

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/targets"
)

// Schema is the format version of a Batch.
const Schema = 1

// Limits of a batch, enforced by ParseBatch and honoured by the device.
const (
	// MaxBatchBytes bounds the body of one upload.
	MaxBatchBytes = 256 << 10
	// MaxReportsPerBatch bounds the reports of one upload.
	MaxReportsPerBatch = 500
)

// IngestPath is the collector's HTTP endpoint for batches (POST, body a
// Batch as JSON).
const IngestPath = "/v1/reports"

// Kinds of report: the state transitions of an update, and the app's own
// signals (crash, latency). Each kind belongs to a Group for sampling.
const (
	// KindOffered: the device selected the version to install (it passed
	// the signed rollout, revocation, compatibility and policy checks).
	KindOffered = "offered"
	// KindDownloaded: every file of the version is staged (Method, Bytes,
	// FullBytes say how).
	KindDownloaded = "downloaded"
	// KindVerified: the staged version matched its signed hashes and
	// lengths.
	KindVerified = "verified"
	// KindActivated: the version became the active one.
	KindActivated = "activated"
	// KindHealthy: the activated version passed its health check (or was
	// confirmed).
	KindHealthy = "healthy"
	// KindRolledBack: the version failed after activation and the device
	// went back to FromVersion (Code says why).
	KindRolledBack = "rolled_back"
	// KindFailed: an update to the version failed before activation (Code).
	KindFailed = "failed"
	// KindDeferred: the update was deferred by device state (Code).
	KindDeferred = "deferred"
	// KindRevoked: the version was revoked; the device skipped, discarded
	// or stepped down from it.
	KindRevoked = "revoked"
	// KindCrash: the app reported a crash of the active version.
	KindCrash = "crash"
	// KindLatency: the app reported an inference latency for the active
	// version (LatencyMillis).
	KindLatency = "latency"
	// KindDropped: the device dropped Count reports because its bounded
	// outbox was full (oldest first).
	KindDropped = "dropped"
)

// Groups of kinds, for sampling: a Sampling rate may name a group.
const (
	GroupSuccess = "success"
	GroupFailure = "failure"
	GroupSignal  = "signal"
)

var kindGroups = map[string]string{
	KindOffered:    GroupSuccess,
	KindDownloaded: GroupSuccess,
	KindVerified:   GroupSuccess,
	KindActivated:  GroupSuccess,
	KindHealthy:    GroupSuccess,
	KindDeferred:   GroupSuccess,
	KindRolledBack: GroupFailure,
	KindFailed:     GroupFailure,
	KindRevoked:    GroupFailure,
	KindCrash:      GroupFailure,
	KindLatency:    GroupSignal,
	KindDropped:    GroupSignal,
}

// Kinds lists every kind, in funnel order first.
var Kinds = []string{KindOffered, KindDownloaded, KindVerified, KindActivated, KindHealthy,
	KindRolledBack, KindFailed, KindDeferred, KindRevoked, KindCrash, KindLatency, KindDropped}

// GroupOf is the sampling group of a kind ("" for an unknown kind).
func GroupOf(kind string) string { return kindGroups[kind] }

// Methods of a download (Report.Method).
const (
	MethodFull  = "full"
	MethodDelta = "delta"
	MethodLocal = "local"
)

// Duration buckets (Report.Duration): how long the step took, coarsely.
var DurationBuckets = []string{"lt1s", "1s-10s", "10s-1m", "1m-10m", "10m-1h", "ge1h"}

// DurationBucket is the bucket of d.
func DurationBucket(d time.Duration) string {
	for i, limit := range []time.Duration{time.Second, 10 * time.Second, time.Minute, 10 * time.Minute, time.Hour} {
		if d < limit {
			return DurationBuckets[i]
		}
	}
	return DurationBuckets[len(DurationBuckets)-1]
}

// FullRate is a sampling rate that sends every report, in basis points.
const FullRate = 10000

// Report is one update report. Every field is optional except ID, Kind,
// ModelID, Version, Hour and Rate.
type Report struct {
	// ID is 32 lowercase hex digits, random per report: it lets the
	// collector drop a retried duplicate and links nothing else.
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Hour is when it happened, UTC, truncated to the hour (RFC 3339).
	Hour        string `json:"hour"`
	ModelID     string `json:"model_id"`
	Version     string `json:"version"`
	FromVersion string `json:"from_version,omitempty"`
	// Code is the stable error code of a failure, rollback, deferral.
	Code string `json:"code,omitempty"`
	// Method, Bytes and FullBytes (downloaded): full, delta or local,
	// the bytes received and the signed length of the files (what a full
	// download transfers).
	Method    string `json:"method,omitempty"`
	Bytes     int64  `json:"bytes,omitempty"`
	FullBytes int64  `json:"full_bytes,omitempty"`
	// Duration is a DurationBuckets entry.
	Duration string `json:"duration,omitempty"`
	// LatencyMillis (latency) is the app's figure, rounded to two
	// significant digits on the device.
	LatencyMillis int64 `json:"latency_ms,omitempty"`
	// Count (dropped) is how many reports were dropped.
	Count       int64  `json:"count,omitempty"`
	DeviceClass string `json:"device_class,omitempty"`
	OS          string `json:"os,omitempty"`
	OSVersion   string `json:"os_version,omitempty"`
	AppVersion  string `json:"app_version,omitempty"`
	// CohortPercent is the device's cohort bucket for the version rounded
	// down to 1% (0-99), or -1 when the version has no staged rollout.
	CohortPercent int `json:"cohort_percent"`
	// Rate is the sampling rate this report was kept at, in basis points
	// (1-10000); the collector weights it by FullRate/Rate.
	Rate int `json:"rate"`
}

// Weight is how many reports this one stands for.
func (r *Report) Weight() float64 { return float64(FullRate) / float64(r.Rate) }

// Batch is one upload.
type Batch struct {
	Schema  int      `json:"schema"`
	Reports []Report `json:"reports"`
}

// ErrInvalid: a batch or report that does not parse or breaks a rule.
// The collector answers 400 and counts it.
var ErrInvalid = errors.New("invalid telemetry")

var (
	idPattern    = regexp.MustCompile(`^[0-9a-f]{32}$`)
	codePattern  = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)
	shortPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+/-]{0,63}$`)
)

// IsShortField reports whether v may be a report's device_class, os,
// os_version or app_version: 1-64 characters of A-Z a-z 0-9 . _ + / -.
func IsShortField(v string) bool { return shortPattern.MatchString(v) }

// ParseBatch parses and checks an uploaded batch: at most MaxBatchBytes,
// strict JSON (no unknown field, no key given twice or in another case, no trailing data, bounded depth), this
// Schema, 1 to MaxReportsPerBatch reports, each passing Check. Any
// failure is ErrInvalid.
func ParseBatch(data []byte) (*Batch, error) {
	var b Batch
	if err := jsonlimit.UnmarshalExact(data, &b, MaxBatchBytes); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if b.Schema != Schema {
		return nil, fmt.Errorf("%w: schema %d, want %d", ErrInvalid, b.Schema, Schema)
	}
	if len(b.Reports) == 0 || len(b.Reports) > MaxReportsPerBatch {
		return nil, fmt.Errorf("%w: %d reports, want 1-%d", ErrInvalid, len(b.Reports), MaxReportsPerBatch)
	}
	for i := range b.Reports {
		if err := b.Reports[i].Check(); err != nil {
			return nil, fmt.Errorf("report %d: %w", i, err)
		}
	}
	return &b, nil
}

// Check reports whether r follows every rule of the format (ErrInvalid).
func (r *Report) Check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if !idPattern.MatchString(r.ID) {
		return bad("id must be 32 lowercase hex digits")
	}
	if GroupOf(r.Kind) == "" {
		return bad("unknown kind %q", r.Kind)
	}
	if h, err := time.Parse(time.RFC3339, r.Hour); err != nil || !h.Equal(h.Truncate(time.Hour)) || h.Location() != time.UTC {
		return bad("hour %q is not an RFC 3339 UTC time on the hour", r.Hour)
	}
	if err := targets.CheckModelID(r.ModelID); err != nil {
		return bad("%v", err)
	}
	if _, err := targets.ParseVersion(r.Version); err != nil {
		return bad("version: %v", err)
	}
	if r.FromVersion != "" {
		if _, err := targets.ParseVersion(r.FromVersion); err != nil {
			return bad("from_version: %v", err)
		}
	}
	if r.Code != "" && !codePattern.MatchString(r.Code) {
		return bad("code %q is not an error code", r.Code)
	}
	switch r.Method {
	case "", MethodFull, MethodDelta, MethodLocal:
	default:
		return bad("unknown method %q", r.Method)
	}
	const maxBytes = 1 << 50
	if r.Bytes < 0 || r.Bytes > maxBytes || r.FullBytes < 0 || r.FullBytes > maxBytes ||
		r.LatencyMillis < 0 || r.LatencyMillis > 1<<31 || r.Count < 0 || r.Count > 1<<31 {
		return bad("a count is out of range")
	}
	if r.Duration != "" && !contains(DurationBuckets, r.Duration) {
		return bad("unknown duration bucket %q", r.Duration)
	}
	for name, v := range map[string]string{"device_class": r.DeviceClass, "os": r.OS, "os_version": r.OSVersion, "app_version": r.AppVersion} {
		if v != "" && !shortPattern.MatchString(v) {
			return bad("%s must be 1-64 characters of A-Z a-z 0-9 . _ + / -", name)
		}
	}
	if r.CohortPercent < -1 || r.CohortPercent > 99 {
		return bad("cohort_percent %d out of -1..99", r.CohortPercent)
	}
	if r.Rate < 1 || r.Rate > FullRate {
		return bad("rate %d out of 1..%d", r.Rate, FullRate)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
