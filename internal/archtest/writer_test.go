package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStagedFormatStandsAlone: what an air-gapped signer's machine runs
// (package staged) links no repository writer, no auditor, server or
// client, and imports no network package itself.
func TestStagedFormatStandsAlone(t *testing.T) {
	t.Parallel()
	d := deps(t, "staged")
	for _, forbidden := range []string{"repo", "delegation", "audit", "server", "client", "internal/fsfetch", "cmd/mrepo"} {
		if d[forbidden] {
			t.Errorf("staged depends on %s", forbidden)
		}
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, module+"staged").Output()
	if err != nil {
		t.Fatalf("go list staged: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if imp == "net" || strings.HasPrefix(imp, "net/") {
			t.Errorf("staged imports %s", imp)
		}
	}
}

// TestDelegationRulesStandAlone: the delegation rules are metadata only.
func TestDelegationRulesStandAlone(t *testing.T) {
	t.Parallel()
	d := deps(t, "delegation")
	for _, forbidden := range []string{"repo", "staged", "audit", "server", "client", "cmd/mrepo"} {
		if d[forbidden] {
			t.Errorf("delegation depends on %s", forbidden)
		}
	}
}

// TestDeviceLinksNoWriterPackage: the packages split out of the repository
// writer are signing-side code too: no device binary links them.
func TestDeviceLinksNoWriterPackage(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"cmd/mclient", "client"} {
		d := deps(t, pkg)
		for _, forbidden := range []string{"staged", "delegation", "internal/rolesign"} {
			if d[forbidden] {
				t.Errorf("%s depends on %s: a device binary must not link signing code", pkg, forbidden)
			}
		}
	}
}
