package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPatchstatIsALeaf: internal/patchstat, shared by repo and mrepo's
// delta command, imports only the standard library.
func TestPatchstatIsALeaf(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+"internal/patchstat").Output()
	if err != nil {
		t.Fatalf("go list -deps internal/patchstat: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != module+"internal/patchstat" {
			t.Errorf("internal/patchstat depends on %s: it must import only the standard library", dep)
		}
	}
}
