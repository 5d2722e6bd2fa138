package archtest

import (
	"strings"
	"testing"
)

// TestTelemetryReadSideDeps: the fleet report and the dashboard read a
// store through its interface. They link no device code, no writer or
// key, no storage backend, no collector (which mounts them, not the other
// way round), no database driver (the store packages hold those) and no
// browser driver (chromedp is for the browser test only).
func TestTelemetryReadSideDeps(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"telemetry/fleetreport", "telemetry/dashboard"} {
		for dep := range deps(t, pkg) {
			forbidden := writerPackage(dep) || dep == "client" || strings.HasPrefix(dep, "client/") ||
				dep == "storage" || strings.HasPrefix(dep, "storage/") || dep == "telemetry/collector" ||
				dep == "telemetry/sqlitestore" || dep == "telemetry/pgstore" || dep == "telemetry/telemetrydb" ||
				strings.HasPrefix(dep, "modernc.org/") || strings.HasPrefix(dep, "github.com/jackc/") ||
				strings.HasPrefix(dep, "github.com/chromedp/")
			if forbidden {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
