package backendtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// emulatorTool finds an emulator of a cloud storage service: the path in
// envVar, else name on PATH, else in GOPATH/bin. The Azure and GCS
// emulators are optional (.ci/install-emulators.sh installs them): a test
// without one skips, and fails only when EDGETUF_REQUIRE_EMULATORS=1.
func emulatorTool(t testing.TB, name, envVar string) string {
	t.Helper()
	if p := os.Getenv(envVar); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(filepath.SplitList(strings.TrimSpace(string(out)))[0], "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("EDGETUF_REQUIRE_EMULATORS") == "1" {
		t.Fatalf("%s is not installed, and EDGETUF_REQUIRE_EMULATORS=1: run .ci/install-emulators.sh", name)
	}
	t.Skipf("%s is not installed (optional; .ci/install-emulators.sh installs it)", name)
	return ""
}
