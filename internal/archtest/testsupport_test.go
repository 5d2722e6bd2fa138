package archtest

import "testing"

// TestTestSupportStaysInTests: the packages that only tests may use (they
// hold test keys and passphrases, or run a test's suite) are linked into
// no command.
func TestTestSupportStaysInTests(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"cmd/mrepo", "cmd/mclient"} {
		d := deps(t, cmd)
		for _, support := range []string{"internal/testrepo", "internal/testrepo/treecache", "internal/keyringtest", "internal/backendtest", "internal/modelcrypttest"} {
			if d[support] {
				t.Errorf("%s depends on %s, which is test support only", cmd, support)
			}
		}
	}
}
