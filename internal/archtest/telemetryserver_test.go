package archtest

import (
	"strings"
	"testing"
)

// telemetryServerSide are the collector's packages: the HTTP ingest, the
// stores and the database drivers they link.
func telemetryServerSide(dep string) bool {
	for _, p := range []string{"telemetry/collector", "telemetry/store", "telemetry/sqlitestore", "telemetry/pgstore",
		"telemetry/telemetrydb", "modernc.org/sqlite", "github.com/jackc/pgx", "database/sql"} {
		if dep == p || strings.HasPrefix(dep, p+"/") {
			return true
		}
	}
	return false
}

// TestTelemetryStoreStandsAlone: the store interface (telemetry/store) is
// imported by the collector, the stores and the read side; it imports
// none of them, no database driver, no client, no writer or repository
// storage. (The wire format's own rule, and the device's, are in
// devicetelemetry_test.go.)
func TestTelemetryStoreStandsAlone(t *testing.T) {
	t.Parallel()
	for dep := range deps(t, "telemetry/store") {
		if dep == "client" || strings.HasPrefix(dep, "client/") || dep == "storage" || strings.HasPrefix(dep, "storage/") ||
			writerPackage(dep) || dep != "telemetry/store" && telemetryServerSide(dep) {
			t.Errorf("telemetry/store depends on %s", dep)
		}
	}
}

// TestTelemetryCollectorLinksNoWriter: the collector and its stores hold
// no keys and write no repository; the collector reaches a database only
// through the store interface (telemetrydb and the stores link drivers).
func TestTelemetryCollectorLinksNoWriter(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"telemetry/collector", "telemetry/sqlitestore", "telemetry/telemetrydb"} {
		for dep := range deps(t, pkg) {
			if writerPackage(dep) || dep == "client" || strings.HasPrefix(dep, "client/") || dep == "storage" || strings.HasPrefix(dep, "storage/") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
	for dep := range deps(t, "telemetry/collector") {
		if strings.HasPrefix(dep, "modernc.org/") || strings.HasPrefix(dep, "github.com/jackc/") || dep == "database/sql" {
			t.Errorf("telemetry/collector depends on %s: it reaches the database through store.Store only", dep)
		}
	}
}
