package rollout

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/targets"
)

// What an operator types to name a version and set its controls. The
// errors name the value, not the flag: a command prefixes the flag.

// ParseModelVersion splits MODEL@VERSION and checks both parts.
func ParseModelVersion(s string) (model, version string, err error) {
	model, version, ok := strings.Cut(s, "@")
	if !ok {
		return "", "", fmt.Errorf("%q: expected MODEL@VERSION, e.g. detector@1.2.0", s)
	}
	if err := targets.CheckModelID(model); err != nil {
		return "", "", fmt.Errorf("%q: %v", s, err)
	}
	if _, err := targets.ParseVersion(version); err != nil {
		return "", "", fmt.Errorf("%q: %v", s, err)
	}
	return model, version, nil
}

// ParseStart reads a rollout's start time: RFC 3339, any offset, whole
// seconds; the result is in UTC, as a rollout stores it.
func ParseStart(s string) (string, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return "", fmt.Errorf("%q: want an RFC 3339 time such as 2026-05-01T08:00:00Z", s)
	}
	if t.Nanosecond() != 0 {
		return "", fmt.Errorf("%q: whole seconds only", s)
	}
	return t.UTC().Format(time.RFC3339), nil
}

// ParseUnmeteredAbove reads a policy's unmetered-above threshold: a byte
// count above 0, digits with an optional unit (B, kB, MB, GB: powers of
// 1000; KiB, MiB, GiB: powers of 1024).
func ParseUnmeteredAbove(s string) (int64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	mult := map[string]int64{"": 1, "B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[strings.TrimSpace(s[i:])]
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || mult == 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q: want a size such as 52428800, 50MB or 50MiB", s)
	}
	if n == 0 {
		return 0, errors.New("must be more than 0 bytes")
	}
	return n * mult, nil
}

// CheckMinBattery checks a policy's minimum battery percentage as an
// operator sets it: 1-100 (0 is no condition).
func CheckMinBattery(n int) error {
	if n < 1 || n > 100 {
		return fmt.Errorf("%d: want 1-100", n)
	}
	return nil
}

// CheckSalt checks a cohort salt an operator chose, as a device will.
func CheckSalt(salt string) error {
	if err := (&targets.Rollout{Salt: salt}).Validate(); err != nil {
		return fmt.Errorf("%q: must be 1-%d printable ASCII characters, no spaces", salt, targets.MaxSaltLength)
	}
	return nil
}
