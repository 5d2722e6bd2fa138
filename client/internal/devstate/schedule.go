package devstate

import (
	"errors"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/targets"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// The retry schedule of a model across runs, backoff.json: package
// client decides the pauses (client/backoff.go); this is the file.
const (
	// BackoffFile is a model's retry schedule, in its directory.
	BackoffFile = "backoff.json"
	// MaxScheduleFile bounds backoff.json; MaxVerifyEntries bounds its
	// per-version records (the oldest go first), MaxAttempts its counts.
	MaxScheduleFile  = 16 << 10
	MaxVerifyEntries = 32
	MaxAttempts      = 1 << 20
)

// Schedule is a model's retry schedule (models/<model>/backoff.json),
// shown by Status (mclient status --json: "schedule").
type Schedule struct {
	// Attempts is the number of consecutive failed runs.
	Attempts int `json:"attempts"`
	// NotBefore (RFC 3339, UTC) is when the next run may try again.
	NotBefore string `json:"not_before,omitempty"`
	// LastCode is the code of the last failure.
	LastCode codes.Code `json:"last_code,omitempty"`
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
	if len(data) > MaxScheduleFile {
		return nil, fmt.Errorf("larger than %d bytes", MaxScheduleFile)
	}
	var s Schedule
	if err := jsonlimit.UnmarshalStrict(data, &s, MaxScheduleFile); err != nil {
		return nil, err
	}
	if s.Attempts < 0 || s.Attempts > MaxAttempts {
		return nil, fmt.Errorf("attempts %d out of range", s.Attempts)
	}
	if s.NotBefore != "" {
		if _, err := ParseTime(s.NotBefore); err != nil {
			return nil, fmt.Errorf("not_before: %v", err)
		}
	}
	if s.LastCode != "" && !codeRE.MatchString(string(s.LastCode)) {
		return nil, fmt.Errorf("last_code %q is not a code", s.LastCode)
	}
	if len(s.VerifyFailures) == 0 {
		s.VerifyFailures = nil
	}
	if len(s.VerifyFailures) > MaxVerifyEntries {
		return nil, fmt.Errorf("more than %d verify_failures entries", MaxVerifyEntries)
	}
	for v, f := range s.VerifyFailures {
		if _, err := targets.ParseVersion(v); err != nil {
			return nil, fmt.Errorf("verify_failures: %v", err)
		}
		if f == nil || f.Count < 0 || f.Count > MaxAttempts {
			return nil, fmt.Errorf("verify_failures[%s]: bad count", v)
		}
		if f.Until != "" {
			if _, err := ParseTime(f.Until); err != nil {
				return nil, fmt.Errorf("verify_failures[%s].until: %v", v, err)
			}
		}
	}
	return &s, nil
}

// ParseTime reads an RFC 3339 time of a state file.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return t, nil
}

// FormatTime is t as state files keep it: RFC 3339, UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Backoff is the model's retry schedule, backoff.json.
func (p ModelPaths) Backoff() string { return filepath.Join(p.Dir, BackoffFile) }

// ReadSchedule reads a model's schedule; a missing file is an empty
// schedule. damage is set when the file exists but cannot be read.
func ReadSchedule(p ModelPaths) (s *Schedule, damage error) {
	data, err := p.FS.ReadFile(p.Backoff(), MaxScheduleFile)
	if errors.Is(err, os.ErrNotExist) {
		return &Schedule{}, nil
	}
	if err == nil {
		if s, err = ParseSchedule(data); err == nil {
			return s, nil
		}
	}
	return &Schedule{}, codes.Errorf(codes.StateInvalid, err, "%s", p.Backoff())
}

// WriteSchedule stores a model's schedule.
func WriteSchedule(p ModelPaths, s *Schedule) error {
	if err := p.FS.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	return WriteJSON(p.FS, p.Backoff(), s)
}
