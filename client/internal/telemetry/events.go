package telemetry

import (
	"time"

	"github.com/edgetuf/edgetuf/client/internal/report"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
)

// EventKinds maps the client's event names (client.Event*, the event
// log's) to report kinds. Events not listed (checked, up_to_date,
// backoff, per-file delta and local-copy events, ...) are not sent:
// they are steps inside a transition, or no transition at all.
var EventKinds = map[string]string{
	"downloaded":       telemetry.KindDownloaded,
	"verified":         telemetry.KindVerified,
	"activated":        telemetry.KindActivated,
	"revoked_rollback": telemetry.KindActivated, // the step-down version, activated on trial
	"confirmed":        telemetry.KindHealthy,
	"rolled_back":      telemetry.KindRolledBack,
	"failed":           telemetry.KindFailed,
	"deferred":         telemetry.KindDeferred,
	"revoked":          telemetry.KindRevoked,
}

// fromRun turns the events of one update run into reports, in order:
// KindOffered first when the run selected a version to install (Result's
// ToVersion, other than the version it started from), then one report
// per mapped event. Every report but offered carries the run's duration
// bucket; each carries its version's cohort bucket.
func (r *Recorder) fromRun(res *report.Result, events []report.Event, took time.Duration, rollout func(string) *targets.Rollout) []telemetry.Report {
	var out []telemetry.Report
	add := func(kind, version string) *telemetry.Report {
		rep := r.base(kind, res.ModelID, version)
		rep.CohortPercent = r.cohort(rollout(version))
		out = append(out, rep)
		return &out[len(out)-1]
	}
	if res.ToVersion != "" && res.ToVersion != res.FromVersion {
		add(telemetry.KindOffered, res.ToVersion).FromVersion = res.FromVersion
	}
	rolledBack := map[string]bool{}
	for _, e := range events {
		kind := EventKinds[e.Event]
		version, from := e.ToVersion, e.FromVersion
		if kind == telemetry.KindRolledBack {
			// The version that failed is the event's from_version; the
			// device went back to its to_version.
			version, from = e.FromVersion, e.ToVersion
		}
		if kind == "" || e.ModelID != res.ModelID || version == "" {
			continue // not a transition of a version (a failure before one was selected)
		}
		if kind == telemetry.KindRolledBack {
			rolledBack[version] = true
		} else if kind == telemetry.KindFailed && rolledBack[version] {
			continue // the run's failure is that rollback, already reported
		}
		rep := add(kind, version)
		if from != version {
			rep.FromVersion = from
		}
		rep.Code = string(e.Code)
		rep.Duration = telemetry.DurationBucket(took)
		switch kind {
		case telemetry.KindDownloaded:
			rep.Method, rep.Bytes, rep.FullBytes = downloadOf(res)
			rep.Bytes = e.Bytes
		case telemetry.KindRolledBack:
			if res.Outcome == "rolled_back" && res.Code != "" {
				rep.Code = string(res.Code) // why, rather than ROLLBACK_TRIGGERED
			}
		}
	}
	return out
}

// downloadOf says how the files of the version a run installed were
// obtained: delta if any was rebuilt with a patch, local if every one was
// copied from the device, else full; bytes received; and the files'
// signed length (what a full download transfers).
func downloadOf(res *report.Result) (method string, bytes, full int64) {
	method = telemetry.MethodFull
	local := len(res.Files) > 0
	for _, f := range res.Files {
		full += f.Length
		bytes += f.Bytes
		switch f.Method {
		case report.MethodDelta:
			method = telemetry.MethodDelta
		case report.MethodLocal:
		default:
			local = false
		}
	}
	if local && method != telemetry.MethodDelta {
		method = telemetry.MethodLocal
	}
	return method, bytes, full
}
