package archtest

import "testing"

// TestPatchstatIsALeaf: internal/patchstat, shared by repo and mrepo's
// delta command, imports only the standard library.
func TestPatchstatIsALeaf(t *testing.T) {
	t.Parallel()
	assertStandardLibraryOnly(t, "internal/patchstat")
}
