package archtest

import "testing"

// TestRootKeysStandsAlone: key rotation planning (package rootkeys) is
// pure root metadata: it links no writer, no key storage (a rotation is
// planned before any key is opened), no staged format, auditor, server or
// client; and no device binary links it.
func TestRootKeysStandsAlone(t *testing.T) {
	t.Parallel()
	for dep := range deps(t, "rootkeys") {
		if writerPackage(dep) || dep == "staged" || dep == "delegation" || dep == "audit" || dep == "server" || dep == "client" {
			t.Errorf("rootkeys depends on %s", dep)
		}
	}
	for _, pkg := range []string{"cmd/mclient", "client"} {
		if deps(t, pkg)["rootkeys"] {
			t.Errorf("%s depends on rootkeys: a device binary must not link signing code", pkg)
		}
	}
}
