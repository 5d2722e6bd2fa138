package autohalt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// Clock is the watcher's time: Now for the checks' times, After to wait
// for the next one. Tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

// Check is the result of one check of a watched version: one log line
// (or one JSON object) of mrepo rollout watch.
type Check struct {
	Time     time.Time `json:"time"`
	ModelID  string    `json:"model_id"`
	Version  string    `json:"version"`
	Outcome  Outcome   `json:"outcome"`
	Decision *Decision `json:"decision,omitempty"`
	// Detail is what the halter did (the versions signed, the staged
	// file), why it changed nothing, or the error.
	Detail string `json:"detail,omitempty"`
}

// Watcher checks one version's fleet report and halts its rollout when
// Decide says so.
type Watcher struct {
	ModelID, Version string
	Thresholds       Thresholds
	Source           fleetreport.Source
	Halter           Halter
	// Interval between checks of Run.
	Interval time.Duration
	// Clock defaults to SystemClock.
	Clock Clock
	// Log, when set, is given every check as it is made.
	Log func(Check)
}

// Once checks the version once: it reads its report, decides, and halts
// if the decision says so. An error reading the report is a Failed check
// that changes nothing.
func (w *Watcher) Once(ctx context.Context) Check {
	ck := w.once(ctx)
	if w.Log != nil {
		w.Log(ck)
	}
	return ck
}

func (w *Watcher) once(ctx context.Context) Check {
	ck := Check{Time: w.clock().Now().UTC(), ModelID: w.ModelID, Version: w.Version}
	fail := func(format string, args ...any) Check {
		ck.Outcome, ck.Detail = Failed, fmt.Sprintf(format, args...)
		return ck
	}
	rep, err := w.Source.Report(ctx, store.Query{ModelID: w.ModelID, Version: w.Version})
	if err != nil {
		return fail("reading reports: %v", err)
	}
	if rep == nil || rep.ModelID != w.ModelID {
		return fail("reading reports: the source answered for another model")
	}
	vr := fleetreport.VersionReport{Version: w.Version}
	for _, v := range rep.Versions {
		if v.Version == w.Version {
			vr = v
		}
	}
	for _, r := range []fleetreport.Rate{vr.RollbackRate, vr.FailureRate} {
		if err := checkEvidence(r); err != nil {
			return fail("reading reports: %s %s: %v", w.ModelID, w.Version, err)
		}
	}
	d := Decide(vr, w.Thresholds)
	ck.Decision = &d
	if !d.Halt {
		ck.Outcome = NoHaltNeeded
		return ck
	}
	out, detail, err := w.Halter.Halt(ctx, w.ModelID, w.Version, d.Reason)
	switch {
	case errors.Is(err, ErrAlreadyHalted):
		out, detail = AlreadyHalted, err.Error()
	case errors.Is(err, ErrNotStaged):
		out, detail = NotStaged, err.Error()
	case err != nil:
		return fail("halting: %v", err)
	case !out.Final():
		return fail("halting: halter answered %q", out)
	}
	ck.Outcome, ck.Detail = out, detail
	return ck
}

// Run checks the version now and then every Interval until a check's
// outcome is final (Outcome.Final: halted, staged, or nothing to halt) or
// ctx ends, and returns the last check (and ctx's error if it ended the
// watch). Failed checks are logged and retried at the next interval:
// they never stop the watch.
func (w *Watcher) Run(ctx context.Context) (Check, error) {
	if w.Interval <= 0 {
		return Check{}, fmt.Errorf("watch interval %v: must be positive", w.Interval)
	}
	for {
		ck := w.Once(ctx)
		if ck.Outcome.Final() {
			return ck, nil
		}
		select {
		case <-ctx.Done():
			return ck, ctx.Err()
		case <-w.clock().After(w.Interval):
		}
	}
}

func (w *Watcher) clock() Clock {
	if w.Clock == nil {
		return SystemClock
	}
	return w.Clock
}

// checkEvidence refuses a rate that no report could give (NaN, infinite,
// negative, above 1, outside its interval, a negative count): whatever
// the source, such numbers decide nothing, neither a halt nor its
// absence, and its reason could not be signed as it is.
func checkEvidence(r fleetreport.Rate) error {
	finite := func(fs ...float64) bool {
		for _, f := range fs {
			if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
				return false
			}
		}
		return true
	}
	if !finite(r.Value, r.Low, r.High, r.Numerator, r.Denominator) || r.Reports < 0 ||
		r.Value > 1 || r.High > 1 || r.Low > r.High || r.Reports > fleetreport.MaxCount {
		return fmt.Errorf("%w: a rate of %v (interval %v-%v) on %d reports", fleetreport.ErrResponse, r.Value, r.Low, r.High, r.Reports)
	}
	return nil
}
