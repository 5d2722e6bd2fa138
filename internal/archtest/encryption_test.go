package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestModelcryptStandsAlone: the payload and envelope format (modelcrypt)
// is a leaf of this module: it imports no package of it, so both the
// publisher and the device may link it.
func TestModelcryptStandsAlone(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", module+"modelcrypt").Output()
	if err != nil {
		t.Fatalf("go list -deps modelcrypt: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, module) && dep != module+"modelcrypt" {
			t.Errorf("modelcrypt depends on %s", strings.TrimPrefix(dep, module))
		}
	}
}

// TestContentKeysPublishingSide: the content key store (contentkeys) holds
// every version's key, so it is publishing-side only: no device binary,
// no device package, and none of the repository-side packages that hold
// no keys (target store, auditor, server, status) link it; nor does the
// writer (repo, and release: a publication gets the store through
// release.KeyStore, so tools built on repo need not link it); and it
// links no device code and no writer.
func TestContentKeysPublishingSide(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", module+"client/...").Output()
	if err != nil {
		t.Fatalf("go list client/...: %v", err)
	}
	pkgs := []string{"cmd/mclient", "targetstore", "audit", "server", "status", "repo", "release"}
	for _, p := range strings.Fields(string(out)) {
		pkgs = append(pkgs, strings.TrimPrefix(p, module))
	}
	for _, pkg := range pkgs {
		if deps(t, pkg)["contentkeys"] {
			t.Errorf("%s depends on contentkeys", pkg)
		}
	}
	for dep := range deps(t, "contentkeys") {
		if dep == "client" || strings.HasPrefix(dep, "client/") || strings.HasPrefix(dep, "cmd/") || dep == "devicekey" ||
			dep == "repo" || dep == "keys" || dep == "targetstore" || dep == "audit" || dep == "server" {
			t.Errorf("contentkeys depends on %s", dep)
		}
	}
}
