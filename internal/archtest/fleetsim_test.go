package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFleetsimStaysInTests: the fleet simulation (internal/fleetsim)
// publishes with testrepo's throwaway keys and drives clients from a
// test: only tests may use it, so no package of the module (commands
// included) links it.
func TestFleetsimStaysInTests(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const fleetsim = module + "internal/fleetsim"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		for _, dep := range fields[1:] {
			if dep == fleetsim {
				t.Errorf("%s depends on internal/fleetsim, which is test support only", fields[0])
			}
		}
	}
}
