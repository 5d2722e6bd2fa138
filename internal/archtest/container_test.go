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
	pkg := module + "delta/container"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != pkg {
			t.Errorf("delta/container depends on %s: it must import only the standard library", dep)
		}
	}
}
