package devstate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMoveVerified: a version's staged parts are moved into a hidden
// install directory (recover's prefix) and synced; a staged file that is
// missing fails the move, and a name that is not a regular file fails the
// sync (what SyncFiles syncs is about to be trusted).
func TestMoveVerified(t *testing.T) {
	state := t.TempDir()
	p := Paths(state, "det")
	stage := p.StagingFor("1.0.0")
	if err := os.MkdirAll(stage, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{"manifest.json", "a.bin", "b.bin"}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(stage, n+PartSuffix), []byte(n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tmp, err := MoveVerified(p, stage, "1.0.0", names)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(tmp), InstallPrefix+"1.0.0-") || filepath.Dir(tmp) != p.Dir {
		t.Errorf("install directory %s", tmp)
	}
	for _, n := range names {
		if data, err := os.ReadFile(filepath.Join(tmp, n)); err != nil || string(data) != n {
			t.Errorf("%s: %q, %v", n, data, err)
		}
	}
	if _, err := MoveVerified(p, stage, "1.0.0", []string{"gone.bin"}); err == nil {
		t.Error("a missing staged file was moved")
	}
	if err := os.Symlink(filepath.Join(tmp, "a.bin"), filepath.Join(tmp, "link")); err != nil {
		t.Fatal(err)
	}
	if err := SyncFiles(tmp, []string{"a.bin", "link"}); err == nil {
		t.Error("SyncFiles followed a link")
	}
}
