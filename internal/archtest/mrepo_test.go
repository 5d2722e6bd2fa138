package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeltaFilesKnowsNoRepository: mrepo delta create|apply on plain files
// (cmd/mrepo/internal/deltafiles) is the patch algorithm and atomic file
// writes: no repository writer, no keys, no TUF, no device code.
func TestDeltaFilesKnowsNoRepository(t *testing.T) {
	t.Parallel()
	for dep := range deps(t, "cmd/mrepo/internal/deltafiles") {
		if dep == "repo" || dep == "keys" || dep == "targets" || dep == "targetstore" || dep == "client" ||
			strings.Contains(dep, "theupdateframework") || strings.Contains(dep, "urfave/cli") {
			t.Errorf("cmd/mrepo/internal/deltafiles depends on %s", dep)
		}
	}
}

// TestDeviceLinksNoMrepoInternals: the packages under cmd/mrepo serve the
// repository command only; no device binary links them.
func TestDeviceLinksNoMrepoInternals(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"cmd/mclient", "client"} {
		for dep := range deps(t, pkg) {
			if strings.HasPrefix(dep, "cmd/mrepo") {
				t.Errorf("%s depends on %s: a device binary must not link repository command code", pkg, dep)
			}
		}
	}
}

// TestReportOnlyFormats: mrepo's text output (cmd/mrepo/internal/report)
// formats the values it is given: it imports no command-line framework,
// no file or network access, and no key storage of its own.
func TestReportOnlyFormats(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, module+"cmd/mrepo/internal/report").Output()
	if err != nil {
		t.Fatalf("go list cmd/mrepo/internal/report: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if imp == "os" || imp == "net" || strings.HasPrefix(imp, "net/") || strings.HasPrefix(imp, "github.com/urfave/cli") ||
			imp == module+"keys" || strings.HasPrefix(imp, "github.com/spf13/afero") {
			t.Errorf("cmd/mrepo/internal/report imports %s", imp)
		}
	}
}

// TestControlFlagsOnlyReadFlags: cmd/mrepo/internal/controlflags turns
// flags into the values package rollout applies; it links no repository
// writer, no keys, no storage and no file access of its own.
func TestControlFlagsOnlyReadFlags(t *testing.T) {
	t.Parallel()
	for dep := range deps(t, "cmd/mrepo/internal/controlflags") {
		if dep == "repo" || dep == "keys" || dep == "storage" || dep == "repostore" || dep == "client" ||
			strings.Contains(dep, "afero") {
			t.Errorf("cmd/mrepo/internal/controlflags depends on %s", dep)
		}
	}
}
