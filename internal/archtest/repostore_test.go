package archtest

import "testing"

// TestRepostoreHoldsNoKeys: the session layer that publishes to object
// storage knows the repository layout and the commit order only: it links
// no key storage, no signing and no writer (callers pass the operation),
// and neither the writer nor a device links it.
func TestRepostoreHoldsNoKeys(t *testing.T) {
	t.Parallel()
	d := deps(t, "repostore")
	for _, forbidden := range []string{"repo", "keys", "client", "audit", "server", "staged", "delegation"} {
		if d[forbidden] {
			t.Errorf("repostore depends on %s", forbidden)
		}
	}
	for _, pkg := range []string{"repo", "client", "cmd/mclient", "internal/repofiles", "storage"} {
		if deps(t, pkg)["repostore"] {
			t.Errorf("%s depends on repostore", pkg)
		}
	}
}
