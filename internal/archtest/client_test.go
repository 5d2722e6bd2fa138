package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// repositorySide are the packages that write, sign, audit or serve a
// repository: nothing on the device links them.
var repositorySide = []string{"repo", "keys", "audit", "server", "staged", "delegation", "status", "targetstore", "rootkeys", "internal/repofiles", "internal/testrepo"}

// TestClientInternalsStandBelowClient: the device library's internal
// packages (client/internal/...) are its mechanisms: they import neither
// package client (which uses them), nor a command, nor anything
// repository-side.
func TestClientInternalsStandBelowClient(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", module+"client/internal/...").Output()
	if err != nil {
		t.Fatalf("go list client/internal/...: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) == 0 {
		t.Fatal("no package under client/internal")
	}
	for _, p := range pkgs {
		pkg := strings.TrimPrefix(p, module)
		for dep := range deps(t, pkg) {
			if dep == "client" || dep == "cmd" || strings.HasPrefix(dep, "cmd/") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
			for _, f := range repositorySide {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s: device code must not link repository code", pkg, dep)
				}
			}
		}
	}
}

// TestDeviceLinksNoRepositorySide: the device library and binary link no
// repository-side package at all (TestDeviceBinaryLinksNoSigningCode names
// the first ones; this is the whole list).
func TestDeviceLinksNoRepositorySide(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"cmd/mclient", "client"} {
		for dep := range deps(t, pkg) {
			for _, f := range repositorySide {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
