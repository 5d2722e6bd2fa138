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
