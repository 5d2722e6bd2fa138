// Package duration reads and writes the lifetimes an operator types and
// mrepo.json stores: Go durations ("36h", "90m") plus whole days ("30d").
//
// It is shared by the repository writer (expiry configuration), the
// auditor (the --valid-for window in its messages) and the commands. It
// imports nothing of the project and must stay that way: it is a leaf.
package duration

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes as a string and also
// accepts a day suffix ("90d").
type Duration time.Duration

// Parse parses Go durations ("36h", "90m") and whole days ("30d").
func Parse(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(d, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 24h, 90m or 30d)", s)
	}
	return d, nil
}

// Format writes whole days as "Nd" and anything else as Go does.
func Format(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// FormatRemaining shows a time left the way an operator reads it: whole
// days (rounded) from two days up, hours and minutes below that.
func FormatRemaining(d time.Duration) string {
	if d <= 0 {
		return "expired"
	}
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd", (d+12*time.Hour)/(24*time.Hour))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", d/time.Hour, (d%time.Hour)/time.Minute)
}

func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(Format(time.Duration(d)))
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
