// Package backoff is the device's retry schedule across runs: which
// failures schedule a pause, how long it is, and how often one version may
// fail verification before it is deferred. It updates a model's
// devstate.Schedule (models/<model>/backoff.json); package client decides
// when to read and write it. docs/client.md describes the behaviour.
package backoff

import (
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
)

// The schedule's constants (client.BackoffBase and so on).
const (
	Base                     = time.Minute
	Max                      = 24 * time.Hour
	VerifyFailureDeferral    = 24 * time.Hour
	DefaultMaxVerifyFailures = 3
)

// Counts reports whether a run that failed with code schedules a
// backoff: failures a later attempt may not have. Not: deferrals, local
// decisions (incompatible, policy, cohort, revoked with nothing to go
// to), a failed health check (the version is marked bad instead), a
// stop, a damaged or locked state directory, a model that is not
// published.
func Counts(code codes.Code) bool {
	switch code {
	case codes.Network, codes.HashMismatch, codes.LengthExceeded, codes.ManifestInvalid, codes.MetadataInvalid, codes.MetadataExpired,
		codes.SignatureInvalid, codes.MetadataSignatureInvalid, codes.RollbackRejected, codes.InsufficientStorage, codes.DeltaFailed:
		return true
	}
	return false
}

// IsVerifyFailure reports whether code says a downloaded version did not
// verify.
func IsVerifyFailure(code codes.Code) bool {
	return code == codes.HashMismatch || code == codes.LengthExceeded || code == codes.ManifestInvalid
}

// Delay is the pause after the attempts-th consecutive failure: Base
// doubled per earlier failure, capped at Max, its second half random
// (r in [0, 1)), and at least the server's Retry-After (capped).
func Delay(attempts int, retryAfter time.Duration, r float64) time.Duration {
	d := Base
	for i := 1; i < attempts && d < Max; i++ {
		d *= 2
	}
	d = min(d, Max)
	if r < 0 || r >= 1 {
		r = 0.5
	}
	d = d/2 + time.Duration(r*float64(d/2))
	if retryAfter > d {
		d = min(retryAfter, Max)
	}
	return d
}

// Record updates s after a run that ended with code ("" for success) and
// reports whether s changed and whether a backoff was scheduled.
func Record(s *devstate.Schedule, code codes.Code, now time.Time, retryAfter time.Duration, r float64) (changed, scheduled bool) {
	switch {
	case code == "":
		if s.Attempts != 0 || s.NotBefore != "" || s.LastCode != "" {
			s.Attempts, s.NotBefore, s.LastCode = 0, "", ""
			return true, false
		}
	case Counts(code):
		s.Attempts = min(s.Attempts+1, devstate.MaxAttempts)
		s.NotBefore, s.LastCode = devstate.FormatTime(now.Add(Delay(s.Attempts, retryAfter, r))), code
		return true, true
	}
	return false, false
}

// VerifyFailed records that version v did not verify; at the limit of
// maxFailures it is deferred for VerifyFailureDeferral.
func VerifyFailed(s *devstate.Schedule, v string, maxFailures int, now time.Time) {
	if s.VerifyFailures == nil {
		s.VerifyFailures = map[string]*devstate.VerifyFailures{}
	}
	f := s.VerifyFailures[v]
	if f == nil {
		if len(s.VerifyFailures) >= devstate.MaxVerifyEntries {
			s.VerifyFailures = map[string]*devstate.VerifyFailures{} // bounded: start over
		}
		f = &devstate.VerifyFailures{}
		s.VerifyFailures[v] = f
	}
	f.Count++
	if f.Count >= maxFailures {
		f.Until = devstate.FormatTime(now.Add(VerifyFailureDeferral))
	}
}

// Deferred returns v's record while v is deferred (nil otherwise); once
// the deferral is over its count starts afresh (changed is set).
func Deferred(s *devstate.Schedule, v string, now time.Time) (f *devstate.VerifyFailures, changed bool) {
	f = s.VerifyFailures[v]
	if f == nil || f.Until == "" {
		return nil, false
	}
	if until, err := devstate.ParseTime(f.Until); err == nil && now.Before(until) {
		return f, false
	}
	delete(s.VerifyFailures, v)
	return nil, true
}

// Verified forgets v's failures once it installed and reports whether s
// changed.
func Verified(s *devstate.Schedule, v string) bool {
	if _, ok := s.VerifyFailures[v]; ok {
		delete(s.VerifyFailures, v)
		return true
	}
	return false
}
