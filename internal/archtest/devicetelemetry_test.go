package archtest

import (
	"strings"
	"testing"
)

// TestTelemetryFormatStandsAlone: package telemetry is the wire format
// that devices and the collector both import, so it links neither side:
// no client, no collector or store, no repository writer, key storage or
// storage backend.
func TestTelemetryFormatStandsAlone(t *testing.T) {
	t.Parallel()
	for dep := range deps(t, "telemetry") {
		if dep == "client" || strings.HasPrefix(dep, "client/") || strings.HasPrefix(dep, "telemetry/") ||
			publishingSide(dep) {
			t.Errorf("telemetry depends on %s", dep)
		}
	}
}

// TestDeviceTelemetryLinksNoCollector: the device side of telemetry
// (client/internal/telemetry, and the client and mclient that use it)
// links the wire format only: no store, collector, dashboard or watch, no
// database driver, and nothing of the publishing side.
func TestDeviceTelemetryLinksNoCollector(t *testing.T) {
	t.Parallel()
	if !directImports(t, "client/internal/telemetry")["telemetry"] {
		t.Error("client/internal/telemetry does not import telemetry: the rule below checks nothing")
	}
	for _, pkg := range []string{"client/internal/telemetry", "client", "cmd/mclient"} {
		for dep := range deps(t, pkg) {
			if strings.HasPrefix(dep, "telemetry/") || strings.HasPrefix(dep, "modernc.org/sqlite") || strings.HasPrefix(dep, "github.com/jackc/pgx") ||
				strings.HasPrefix(dep, "database/sql") || publishingSide(dep) {
				t.Errorf("%s depends on %s: a device links the telemetry wire format only", pkg, dep)
			}
		}
	}
	// It reads signed metadata through the session it is handed
	// (telemetry.Source), never with a TUF session of its own.
	imports := directImports(t, "client/internal/telemetry")
	for _, forbidden := range []string{"client/internal/tufsession", "client/internal/transport", "github.com/theupdateframework/go-tuf/v2/metadata/updater"} {
		if imports[forbidden] {
			t.Errorf("client/internal/telemetry imports %s", forbidden)
		}
	}
}

// publishingSide: the repository writer, key storage, signing and the
// storage backends.
func publishingSide(dep string) bool {
	return under(dep, "repo", "keys", "repostore", "storage", "targetstore", "internal/rolesign", "internal/testrepo", "internal/keyringtest")
}
