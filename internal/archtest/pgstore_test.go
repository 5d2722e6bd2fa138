package archtest

import (
	"strings"
	"testing"
)

// TestPostgresStoreStaysOnTheCollectorSide: the PostgreSQL telemetry store
// is collector code. It links no device, signing or storage code, and no
// device binary links it or its driver; its test suite is linked by no
// command.
func TestPostgresStoreStaysOnTheCollectorSide(t *testing.T) {
	t.Parallel()
	d := deps(t, "telemetry/pgstore")
	for _, forbidden := range []string{"client", "telemetry/collector", "repo", "keys", "storage", "cmd/mrepo", "cmd/mclient"} {
		if d[forbidden] {
			t.Errorf("telemetry/pgstore depends on %s", forbidden)
		}
	}
	for _, pkg := range []string{"client", "cmd/mclient", "telemetry", "telemetry/store"} {
		for dep := range deps(t, pkg) {
			if dep == "telemetry/pgstore" || strings.HasPrefix(dep, "github.com/jackc/") {
				t.Errorf("%s depends on %s: only the collector side links the PostgreSQL store and driver", pkg, dep)
			}
		}
	}
	for _, cmd := range []string{"cmd/mrepo", "cmd/mclient"} {
		if deps(t, cmd)["telemetry/store/storetest"] {
			t.Errorf("%s depends on telemetry/store/storetest, which is test support only", cmd)
		}
	}
}
