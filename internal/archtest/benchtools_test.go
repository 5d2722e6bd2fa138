package archtest

import "testing"

// TestMemsplitLinksStandardLibraryOnly: bench/memsplit measures other
// programs' memory and links only the standard library, so that it stays
// small beside what it measures and needs nothing of the module.
func TestMemsplitLinksStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	assertStandardLibraryOnly(t, "bench/memsplit")
}
