package archtest

import "testing"

// TestTargetStoreHoldsNoKeys: the target store (package targetstore)
// writes target files only: it links no key storage, no signing and no
// metadata writer, and none of the packages that decide what is signed.
func TestTargetStoreHoldsNoKeys(t *testing.T) {
	t.Parallel()
	d := deps(t, "targetstore")
	for _, forbidden := range []string{"repo", "keys", "contentkeys", "staged", "delegation", "audit", "server", "client", "cmd/mrepo", "internal/testrepo"} {
		if d[forbidden] {
			t.Errorf("targetstore depends on %s", forbidden)
		}
	}
}

// TestDeviceLinksNoTargetStore: storing targets is repository-side code;
// no device binary links it.
func TestDeviceLinksNoTargetStore(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"cmd/mclient", "client"} {
		if deps(t, pkg)["targetstore"] {
			t.Errorf("%s depends on targetstore: a device binary must not link repository code", pkg)
		}
	}
}
