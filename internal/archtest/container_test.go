package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestContainerIsALeaf: delta/container parses untrusted model headers
// for delta; it imports only the standard library, so that what it can
// reach stays small enough to audit.
func TestContainerIsALeaf(t *testing.T) {
	t.Parallel()
	assertStandardLibraryOnly(t, "delta/container")
}

// TestFSEBlockDependencies: delta/internal/fseblock decodes untrusted
// patch blocks; it imports only the standard library, klauspost/compress
// (FSE, Huffman and zstd coders) and delta/internal/cm (the adaptive
// coder of its mode 8).
func TestFSEBlockDependencies(t *testing.T) {
	t.Parallel()
	assertDepsOnly(t, "delta/internal/fseblock", "github.com/klauspost/compress", module+"delta/internal/cm")
}

// TestCMIsALeaf: delta/internal/cm decodes untrusted adaptive blocks; it
// imports only the standard library.
func TestCMIsALeaf(t *testing.T) {
	t.Parallel()
	assertStandardLibraryOnly(t, "delta/internal/cm")
}

// TestDeltaDependencies: delta imports only the standard library,
// internal/directio, klauspost/compress and its own subpackages.
func TestDeltaDependencies(t *testing.T) {
	t.Parallel()
	assertDepsOnly(t, "delta", module+"delta", module+"internal/directio", "github.com/klauspost/compress")
}

// assertStandardLibraryOnly fails t for each package outside the standard
// library that pkg (a path inside the module) depends on.
func assertStandardLibraryOnly(t *testing.T, pkg string) {
	t.Helper()
	assertDepsOnly(t, pkg)
}

// assertDepsOnly fails t for each package outside the standard library
// that pkg (a path inside the module) depends on, other than pkg itself
// and the packages at or below one of the import paths allowed.
func assertDepsOnly(t *testing.T, pkg string, allowed ...string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	for _, dep := range strings.Fields(string(out)) {
		ok := dep == module+pkg
		for _, a := range allowed {
			ok = ok || dep == a || strings.HasPrefix(dep, a+"/")
		}
		if !ok {
			t.Errorf("%s depends on %s: it may import only the standard library and %v", pkg, dep, allowed)
		}
	}
}
