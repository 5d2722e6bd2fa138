package client

import (
	"github.com/edgetuf/edgetuf/client/internal/backoff"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
)

// Backoff across runs (client/internal/backoff). A run that fails (for a
// reason a later attempt may not have: NETWORK, a server error, a file
// that does not verify, ...) records in models/<model>/backoff.json an
// attempt count and a time before which the next run does not try
// (BACKOFF, unless UpdateRequest.Force). The pause starts at BackoffBase
// and doubles with each failure up to BackoffMax, with jitter (half of it
// random); a server's Retry-After (on a 429 or 503) lengthens it, up to
// BackoffMax. A success resets it. Deferrals, cohort exclusion,
// cancellation and a failed health check (the version is marked bad) are
// not failures of this kind and leave it alone.
const (
	BackoffBase = backoff.Base
	BackoffMax  = backoff.Max
	// VerifyFailureDeferral is how long a version that failed
	// verification from the network Options.MaxVerifyFailures times is
	// not tried again.
	VerifyFailureDeferral = backoff.VerifyFailureDeferral
	// DefaultMaxVerifyFailures is the default Options.MaxVerifyFailures.
	DefaultMaxVerifyFailures = backoff.DefaultMaxVerifyFailures
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

// recordOutcome updates the schedule after a run that ended with err.
func (u *run) recordOutcome(err error) {
	s := u.sched
	if s == nil {
		return
	}
	changed, scheduled := backoff.Record(s, CodeOf(err), u.c.now(), u.c.retryAfter.Get(), u.c.opts.Rand())
	if scheduled {
		u.res.NotBefore = s.NotBefore
		u.c.event(Event{Event: EventBackoff, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: u.res.ToVersion,
			Code: s.LastCode, NotBefore: s.NotBefore})
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
	backoff.VerifyFailed(u.sched, v, u.c.opts.MaxVerifyFailures, u.c.now())
	u.schedChanged = true
}

// verifyDeferred returns DEFERRED_VERIFY_FAILURES while v is deferred;
// once the deferral is over its count starts afresh.
func (u *run) verifyDeferred(v string) *Error {
	f, changed := backoff.Deferred(u.sched, v, u.c.now())
	u.schedChanged = u.schedChanged || changed
	if f == nil {
		return nil
	}
	return codes.Errorf(DeferredVerifyFailures, nil, "%s %s failed verification %d times; not tried again before %s", u.req.ModelID, v, f.Count, f.Until)
}

// verified forgets v's failures once it installed.
func (u *run) verified(v string) {
	u.schedChanged = backoff.Verified(u.sched, v) || u.schedChanged
}
