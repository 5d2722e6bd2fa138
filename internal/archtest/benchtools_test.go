package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestMemsplitLinksStandardLibraryOnly: bench/memsplit measures other
// programs' memory and links only the standard library, so that it stays
// small beside what it measures and needs nothing of the module.
func TestMemsplitLinksStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	pkg := module + "bench/memsplit"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != pkg {
			t.Errorf("bench/memsplit depends on %s", dep)
		}
	}
}
