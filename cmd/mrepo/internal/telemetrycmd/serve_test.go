package telemetrycmd

import (
	"testing"

	"github.com/edgetuf/edgetuf/telemetry/collector"
)

// TestParseRate: --rate-limit takes N/s (fractions too) or off, nothing
// else.
func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"20/s": 20, "0.5/s": 0.5, "off": collector.NoRateLimit} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "20", "0/s", "-1/s", "NaN/s", "Inf/s", "2e7/s", "20/m", "off/s"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) accepted", in)
		}
	}
}
