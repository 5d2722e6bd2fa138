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

// TestTelemetryWireFormatStandsAlone: the wire format (telemetry) and the
// store interface (telemetry/store) are imported by both sides; they
// import neither side, nor the writer or repository storage.
func TestTelemetryWireFormatStandsAlone(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"telemetry", "telemetry/store"} {
		for dep := range deps(t, pkg) {
			if dep == "client" || strings.HasPrefix(dep, "client/") || dep == "storage" || strings.HasPrefix(dep, "storage/") ||
				writerPackage(dep) || dep != pkg && telemetryServerSide(dep) {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}

// TestDeviceLinksNoTelemetryCollector: a device binary sends reports; it
// links no collector, no store and no database driver.
func TestDeviceLinksNoTelemetryCollector(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"cmd/mclient", "client"} {
		for dep := range deps(t, pkg) {
			if telemetryServerSide(dep) {
				t.Errorf("%s depends on %s: a device binary must not link the telemetry collector or a database", pkg, dep)
			}
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
