package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestListingReadsSignedMetadataOnly: client/internal/listing lists the
// versions of a model from signed metadata, through the TUF session
// (tufsession), and does nothing else itself: it imports no downloader
// (transport) and neither reads nor writes the device's state (devstate,
// safefs, atomicfs), which package client decides about.
func TestListingReadsSignedMetadataOnly(t *testing.T) {
	t.Parallel()
	imports := directImports(t, "client/internal/listing")
	if !imports["client/internal/tufsession"] {
		t.Error("client/internal/listing does not import client/internal/tufsession: the rule below checks nothing")
	}
	for _, forbidden := range []string{"client/internal/transport", "client/internal/devstate", "internal/safefs", "internal/atomicfs", "os"} {
		if imports[forbidden] {
			t.Errorf("client/internal/listing imports %s: it lists versions from signed metadata only", forbidden)
		}
	}
}

// directImports are the packages pkg imports itself: this module's by
// their path inside it, the standard library's by theirs.
func directImports(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, module+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	imports := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		imports[strings.TrimPrefix(p, module)] = true
	}
	return imports
}
