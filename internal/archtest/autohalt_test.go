package archtest

import (
	"strings"
	"testing"
)

// TestAutohaltDecidesOnly: the automatic halt (telemetry/autohalt)
// decides on a fleet report and asks a Halter to halt: it links no
// repository writer, key storage, object storage, telemetry store
// implementation, collector or client (mrepo's command gives it the
// repository's control API), and no device binary links it.
func TestAutohaltDecidesOnly(t *testing.T) {
	t.Parallel()
	for dep := range deps(t, "telemetry/autohalt") {
		if writerPackage(dep) || dep == "storage" || dep == "repostore" || dep == "client" || dep == "server" ||
			strings.HasPrefix(dep, "cmd/") || strings.HasPrefix(dep, "telemetry/") && dep != "telemetry/fleetreport" && dep != "telemetry/store" && dep != "telemetry/autohalt" {
			t.Errorf("telemetry/autohalt depends on %s", dep)
		}
	}
	for _, dev := range []string{"cmd/mclient", "client"} {
		if deps(t, dev)["telemetry/autohalt"] {
			t.Errorf("%s depends on telemetry/autohalt: a device binary must not link it", dev)
		}
	}
}

// TestRepoctlIsPublishingSide: the repository side of telemetry
// (telemetry/repoctl: publishing the sampling config, halting) is the
// publisher's: no device binary, collector or telemetry store links it.
func TestRepoctlIsPublishingSide(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"cmd/mclient", "client", "telemetry", "telemetry/store", "telemetry/autohalt"} {
		if deps(t, pkg)["telemetry/repoctl"] {
			t.Errorf("%s depends on telemetry/repoctl", pkg)
		}
	}
}
