package client

import (
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"time"
)

// Backoff across runs. A run that fails (for a reason a later attempt may
// not have: NETWORK, a server error, a file that does not verify, ...)
// records in models/<model>/backoff.json an attempt count and a time
// before which the next run does not try (BACKOFF, unless
// UpdateRequest.Force). The pause starts at BackoffBase and doubles with
// each failure up to BackoffMax, with jitter (half of it random); a
// server's Retry-After (on a 429 or 503) lengthens it, up to BackoffMax.
// A success resets it. Deferrals, cohort exclusion, cancellation and a
// failed health check (the version is marked bad) are not failures of
// this kind and leave it alone.
const (
	BackoffBase = time.Minute
	BackoffMax  = 24 * time.Hour
	// VerifyFailureDeferral is how long a version that failed
	// verification from the network Options.MaxVerifyFailures times is
	// not tried again.
	VerifyFailureDeferral = 24 * time.Hour
	// DefaultMaxVerifyFailures is the default Options.MaxVerifyFailures.
	DefaultMaxVerifyFailures = 3
)

// Schedule is a model's retry schedule (models/<model>/backoff.json),
// shown by Status (mclient status --json: "schedule").
type Schedule = devstate.Schedule

// VerifyFailures is one version's record of failed verifications.
type VerifyFailures = devstate.VerifyFailures

// ParseSchedule reads backoff.json: strict JSON, bounded, every field
// valid.
func ParseSchedule(data []byte) (*Schedule, error) { return devstate.ParseSchedule(data) }

// loadSchedule reads the schedule for a run that holds the lock. A damaged
// file is set aside (backoff.json.damaged, event state_reset) and the
// schedule starts afresh: losing it only makes the next attempt earlier.
func (c *Client) loadSchedule(p devstate.ModelPaths, modelID string) (*Schedule, error) {
	s, damage := devstate.ReadSchedule(p)
	if damage != nil {
		if err := c.recordDamage(p, p.Backoff(), modelID); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// countsForBackoff reports whether a run that failed with code schedules
// a backoff: failures a later attempt may not have. Not: deferrals, local
// decisions (incompatible, policy, cohort, revoked with nothing to go
// to), a failed health check (the version is marked bad instead), a stop,
// a damaged or locked state directory, a model that is not published.
func countsForBackoff(code Code) bool {
	switch code {
	case Network, HashMismatch, LengthExceeded, ManifestInvalid, MetadataInvalid, MetadataExpired,
		SignatureInvalid, MetadataSignatureInvalid, RollbackRejected, InsufficientStorage, DeltaFailed:
		return true
	}
	return false
}

// isVerifyFailure: a downloaded version did not verify.
func isVerifyFailure(code Code) bool {
	return code == HashMismatch || code == LengthExceeded || code == ManifestInvalid
}

// backoffDelay is the pause after the attempts-th consecutive failure:
// BackoffBase doubled per earlier failure, capped at BackoffMax, its
// second half random, and at least the server's Retry-After (capped).
func (c *Client) backoffDelay(attempts int, retryAfter time.Duration) time.Duration {
	d := BackoffBase
	for i := 1; i < attempts && d < BackoffMax; i++ {
		d *= 2
	}
	d = min(d, BackoffMax)
	r := c.opts.Rand()
	if r < 0 || r >= 1 {
		r = 0.5
	}
	d = d/2 + time.Duration(r*float64(d/2))
	if retryAfter > d {
		d = min(retryAfter, BackoffMax)
	}
	return d
}

// recordOutcome updates the schedule after a run that ended with err.
func (u *run) recordOutcome(err error) {
	s := u.sched
	if s == nil {
		return
	}
	code := CodeOf(err)
	changed := false
	switch {
	case err == nil:
		if s.Attempts != 0 || s.NotBefore != "" || s.LastCode != "" {
			s.Attempts, s.NotBefore, s.LastCode = 0, "", ""
			changed = true
		}
	case countsForBackoff(code):
		s.Attempts = min(s.Attempts+1, devstate.MaxAttempts)
		now := u.c.now()
		d := u.c.backoffDelay(s.Attempts, u.c.retryAfter.Get())
		s.NotBefore, s.LastCode = devstate.FormatTime(now.Add(d)), code
		changed = true
		u.res.NotBefore = s.NotBefore
		u.c.event(Event{Event: EventBackoff, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: u.res.ToVersion,
			Code: code, NotBefore: s.NotBefore})
	}
	if changed || u.schedChanged {
		if werr := devstate.WriteSchedule(u.p, s); werr == nil {
			u.schedChanged = false
		}
	}
}

// verifyFailed records that version v, downloaded in this run, did not
// verify; at the limit it is deferred for VerifyFailureDeferral.
func (u *run) verifyFailed(v string) {
	s := u.sched
	if s.VerifyFailures == nil {
		s.VerifyFailures = map[string]*VerifyFailures{}
	}
	f := s.VerifyFailures[v]
	if f == nil {
		if len(s.VerifyFailures) >= devstate.MaxVerifyEntries {
			s.VerifyFailures = map[string]*VerifyFailures{} // bounded: start over
		}
		f = &VerifyFailures{}
		s.VerifyFailures[v] = f
	}
	f.Count++
	if f.Count >= u.c.opts.MaxVerifyFailures {
		f.Until = devstate.FormatTime(u.c.now().Add(VerifyFailureDeferral))
	}
	u.schedChanged = true
}

// verifyDeferred returns DEFERRED_VERIFY_FAILURES while v is deferred;
// once the deferral is over its count starts afresh.
func (u *run) verifyDeferred(v string) *Error {
	f := u.sched.VerifyFailures[v]
	if f == nil || f.Until == "" {
		return nil
	}
	until, err := devstate.ParseTime(f.Until)
	if err == nil && u.c.now().Before(until) {
		return codes.Errorf(DeferredVerifyFailures, nil, "%s %s failed verification %d times; not tried again before %s", u.req.ModelID, v, f.Count, f.Until)
	}
	delete(u.sched.VerifyFailures, v)
	u.schedChanged = true
	return nil
}

// verified forgets v's failures once it installed.
func (u *run) verified(v string) {
	if _, ok := u.sched.VerifyFailures[v]; ok {
		delete(u.sched.VerifyFailures, v)
		u.schedChanged = true
	}
}
