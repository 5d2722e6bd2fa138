package listing

import (
	"slices"
	"testing"
)

// TestIndexNames: the versions to resolve are those the index names and
// the extra ones (the active version), each once, newest first in the
// device order, without versions that differ only in case or that do not
// parse.
func TestIndexNames(t *testing.T) {
	t.Parallel()
	got := indexNames([]string{"1.0.0", "1.2.0", "2.0.0-rc.1", "2.0.0", "3.0.0-RC.1", "3.0.0-rc.1"}, []string{"1.1.0", "1.2.0", "not a version", "2.0.0+build.7"})
	want := []string{"2.0.0", "2.0.0+build.7", "2.0.0-rc.1", "1.2.0", "1.1.0", "1.0.0"}
	if !slices.Equal(got, want) {
		t.Fatalf("indexNames = %v, want %v", got, want)
	}
}
