package backendtest

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of a Chromium to drive headless (the browser
// tests of the telemetry dashboard): $EDGETUF_CHROMIUM if set, else
// Debian's chromium (or chromium-browser) on PATH. Without one the test
// skips, or fails when EDGETUF_REQUIRE_BACKENDS=1.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("EDGETUF_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "chromium")
	return ""
}
