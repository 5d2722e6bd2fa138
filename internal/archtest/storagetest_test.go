package archtest

import "testing"

// TestStorageTestSuiteKnowsNoTUF: the backend test suite
// (storage/storagetest) is about storage semantics only, like storage
// itself: it links no repository, metadata or key code; and as test
// support it is linked into no command.
func TestStorageTestSuiteKnowsNoTUF(t *testing.T) {
	t.Parallel()
	d := deps(t, "storage/storagetest")
	for _, forbidden := range []string{"repo", "repostore", "client", "targets", "keys", "audit", "server", "delegation", "internal/repofiles", "internal/testrepo"} {
		if d[forbidden] {
			t.Errorf("storage/storagetest depends on %s", forbidden)
		}
	}
	for _, cmd := range []string{"cmd/mrepo", "cmd/mclient"} {
		if deps(t, cmd)["storage/storagetest"] {
			t.Errorf("%s depends on storage/storagetest, which is test support only", cmd)
		}
	}
}
