package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestContainerIsALeaf: delta/container parses untrusted model headers
// for delta; it imports only the standard library, so that what it can
// reach stays small enough to audit.
func TestContainerIsALeaf(t *testing.T) {
	t.Parallel()
	assertStandardLibraryOnly(t, "delta/container")
}

// assertStandardLibraryOnly fails t for each package outside the standard
// library that pkg (a path inside the module) depends on.
func assertStandardLibraryOnly(t *testing.T, pkg string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != module+pkg {
			t.Errorf("%s depends on %s: it must import only the standard library", pkg, dep)
		}
	}
}
