package backoff

import (
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
)

// TestSkipsScheduleNoBackoff: a version skipped for its key
// (KEY_UNAVAILABLE, DECRYPT_FAILED) is not a failure that schedules a
// pause, nor is a device key fault; a network failure is, and success
// resets it.
func TestSkipsScheduleNoBackoff(t *testing.T) {
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	s := &devstate.Schedule{}
	for _, c := range []codes.Code{codes.KeyUnavailable, codes.DecryptFailed, codes.DeviceKeyUnavailable, codes.Incompatible} {
		if changed, scheduled := Record(s, c, now, 0, 0.5); changed || scheduled || Counts(c) {
			t.Errorf("%s scheduled a backoff", c)
		}
	}
	if _, scheduled := Record(s, codes.Network, now, 0, 0.5); !scheduled || s.Attempts != 1 || s.NotBefore == "" {
		t.Fatalf("NETWORK: %+v", s)
	}
	if changed, _ := Record(s, "", now, 0, 0.5); !changed || s.Attempts != 0 || s.NotBefore != "" {
		t.Fatalf("success: %+v", s)
	}
}

// TestDelay: doubling from Base, capped at Max, jittered in its second
// half, lengthened by Retry-After up to Max.
func TestDelay(t *testing.T) {
	for _, tc := range []struct {
		attempts   int
		retryAfter time.Duration
		r          float64
		want       time.Duration
	}{
		{1, 0, 0, Base / 2},
		{3, 0, 0.999999, 4*Base - 1},
		{40, 0, 0, Max / 2},
		{1, 2 * time.Hour, 0, 2 * time.Hour},
		{1, 48 * time.Hour, 0, Max},
	} {
		if got := Delay(tc.attempts, tc.retryAfter, tc.r); got < tc.want-time.Millisecond || got > tc.want+time.Millisecond {
			t.Errorf("Delay(%d, %v, %v) = %v, want %v", tc.attempts, tc.retryAfter, tc.r, got, tc.want)
		}
	}
}
