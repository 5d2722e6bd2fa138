package telemetry

import (
	"fmt"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
)

// SamplingTarget is the target path, in the top-level targets role, of the
// repository's signed sampling configuration (a Sampling document). A
// device reads it through TUF like any target; without it every report is
// sent (FullRate).
const SamplingTarget = "edgetuf/telemetry.json"

// SamplingFormat marks a Sampling document.
const SamplingFormat = "edgetuf-telemetry-v1"

// MaxSamplingBytes bounds a Sampling document.
const MaxSamplingBytes = 16 << 10

// Sampling is the signed sampling configuration: the share of reports of
// each kind a device keeps, in basis points (10000 = all, 1000 = 10%).
// A kind's rate is Rates[kind] if set, else Rates[its group], else
// Default. A rate is 1-10000; to send nothing, do not configure a
// collector.
type Sampling struct {
	Format  string         `json:"format"`
	Default int            `json:"default"`
	Rates   map[string]int `json:"rates,omitempty"`
}

// ParseSampling parses a Sampling document strictly: bounded, no unknown
// field, no key given twice or in another case, this format, keys that are kinds or groups, rates 1-10000.
// Any failure is ErrInvalid.
func ParseSampling(data []byte) (*Sampling, error) {
	var s Sampling
	if err := jsonlimit.UnmarshalExact(data, &s, MaxSamplingBytes); err != nil {
		return nil, fmt.Errorf("%w: sampling: %v", ErrInvalid, err)
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Check reports whether s follows the rules ParseSampling enforces.
func (s *Sampling) Check() error {
	if s.Format != SamplingFormat {
		return fmt.Errorf("%w: sampling: format %q, want %q", ErrInvalid, s.Format, SamplingFormat)
	}
	if s.Default < 1 || s.Default > FullRate {
		return fmt.Errorf("%w: sampling: default rate %d out of 1..%d", ErrInvalid, s.Default, FullRate)
	}
	for k, v := range s.Rates {
		if GroupOf(k) == "" && k != GroupSuccess && k != GroupFailure && k != GroupSignal {
			return fmt.Errorf("%w: sampling: %q is neither a kind nor a group", ErrInvalid, k)
		}
		if v < 1 || v > FullRate {
			return fmt.Errorf("%w: sampling: rate %d for %q out of 1..%d", ErrInvalid, v, k, FullRate)
		}
	}
	return nil
}

// RateOf is the rate, in basis points, at which reports of kind are kept.
// A nil Sampling keeps everything.
func (s *Sampling) RateOf(kind string) int {
	if s == nil {
		return FullRate
	}
	if r, ok := s.Rates[kind]; ok {
		return r
	}
	if r, ok := s.Rates[GroupOf(kind)]; ok {
		return r
	}
	return s.Default
}
