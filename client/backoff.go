package client

import (
	"errors"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/targets"
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
	backoffFile              = "backoff.json"
	// maxScheduleFile bounds backoff.json; maxVerifyEntries bounds its
	// per-version records (the oldest go first).
	maxScheduleFile  = 16 << 10
	maxVerifyEntries = 32
	maxAttempts      = 1 << 20
)

// Schedule is a model's retry schedule (models/<model>/backoff.json),
// shown by Status (mclient status --json: "schedule").
type Schedule struct {
	// Attempts is the number of consecutive failed runs.
	Attempts int `json:"attempts"`
	// NotBefore (RFC 3339, UTC) is when the next run may try again.
	NotBefore string `json:"not_before,omitempty"`
	// LastCode is the code of the last failure.
	LastCode Code `json:"last_code,omitempty"`
	// VerifyFailures counts, per version, the downloads that did not
	// verify (HASH_MISMATCH, LENGTH_EXCEEDED, MANIFEST_INVALID).
	VerifyFailures map[string]*VerifyFailures `json:"verify_failures,omitempty"`
}

// VerifyFailures is one version's record of failed verifications.
type VerifyFailures struct {
	Count int `json:"count"`
	// Until (RFC 3339, UTC), once Count reached the limit: the version is
	// deferred (DEFERRED_VERIFY_FAILURES) until then, then tried afresh.
	Until string `json:"until,omitempty"`
}

var codeRE = regexp.MustCompile(`^[A-Z][A-Z_]{0,63}$`)

// ParseSchedule reads backoff.json: strict JSON, bounded, every field
// valid.
func ParseSchedule(data []byte) (*Schedule, error) {
	if len(data) > maxScheduleFile {
		return nil, fmt.Errorf("larger than %d bytes", maxScheduleFile)
	}
	var s Schedule
	if err := jsonlimit.UnmarshalStrict(data, &s, maxScheduleFile); err != nil {
		return nil, err
	}
	if s.Attempts < 0 || s.Attempts > maxAttempts {
		return nil, fmt.Errorf("attempts %d out of range", s.Attempts)
	}
	if s.NotBefore != "" {
		if _, err := parseTime(s.NotBefore); err != nil {
			return nil, fmt.Errorf("not_before: %v", err)
		}
	}
	if s.LastCode != "" && !codeRE.MatchString(string(s.LastCode)) {
		return nil, fmt.Errorf("last_code %q is not a code", s.LastCode)
	}
	if len(s.VerifyFailures) == 0 {
		s.VerifyFailures = nil
	}
	if len(s.VerifyFailures) > maxVerifyEntries {
		return nil, fmt.Errorf("more than %d verify_failures entries", maxVerifyEntries)
	}
	for v, f := range s.VerifyFailures {
		if _, err := targets.ParseVersion(v); err != nil {
			return nil, fmt.Errorf("verify_failures: %v", err)
		}
		if f == nil || f.Count < 0 || f.Count > maxAttempts {
			return nil, fmt.Errorf("verify_failures[%s]: bad count", v)
		}
		if f.Until != "" {
			if _, err := parseTime(f.Until); err != nil {
				return nil, fmt.Errorf("verify_failures[%s].until: %v", v, err)
			}
		}
	}
	return &s, nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return t, nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (p modelPaths) backoff() string { return filepath.Join(p.dir, backoffFile) }

// readSchedule reads a model's schedule; a missing file is an empty
// schedule. damage is set when the file exists but cannot be read.
func readSchedule(p modelPaths) (s *Schedule, damage error) {
	data, err := p.fs.ReadFile(p.backoff(), maxScheduleFile)
	if errors.Is(err, os.ErrNotExist) {
		return &Schedule{}, nil
	}
	if err == nil {
		if s, err = ParseSchedule(data); err == nil {
			return s, nil
		}
	}
	return &Schedule{}, codes.Errorf(StateInvalid, err, "%s", p.backoff())
}

// loadSchedule reads the schedule for a run that holds the lock. A damaged
// file is set aside (backoff.json.damaged, event state_reset) and the
// schedule starts afresh: losing it only makes the next attempt earlier.
func (c *Client) loadSchedule(p modelPaths, modelID string) (*Schedule, error) {
	s, damage := readSchedule(p)
	if damage != nil {
		if err := c.recordDamage(p, p.backoff(), modelID); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func writeSchedule(p modelPaths, s *Schedule) error {
	if err := p.fs.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	return writeJSON(p.fs, p.backoff(), s)
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
		s.Attempts = min(s.Attempts+1, maxAttempts)
		now := u.c.now()
		d := u.c.backoffDelay(s.Attempts, u.c.retryAfter.Get())
		s.NotBefore, s.LastCode = formatTime(now.Add(d)), code
		changed = true
		u.res.NotBefore = s.NotBefore
		u.c.event(Event{Event: EventBackoff, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: u.res.ToVersion,
			Code: code, NotBefore: s.NotBefore})
	}
	if changed || u.schedChanged {
		if werr := writeSchedule(u.p, s); werr == nil {
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
		if len(s.VerifyFailures) >= maxVerifyEntries {
			s.VerifyFailures = map[string]*VerifyFailures{} // bounded: start over
		}
		f = &VerifyFailures{}
		s.VerifyFailures[v] = f
	}
	f.Count++
	if f.Count >= u.c.opts.MaxVerifyFailures {
		f.Until = formatTime(u.c.now().Add(VerifyFailureDeferral))
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
	until, err := parseTime(f.Until)
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
