//go:build !linux

package fleetsim

import "testing"

// stateRoot is where the fleet's state directories go (see the Linux
// version): a temporary directory of the test.
func stateRoot(t testing.TB, devices int) string {
	t.Helper()
	return t.TempDir()
}
