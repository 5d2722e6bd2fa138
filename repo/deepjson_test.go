package repo

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/internal/repoconfig"
	"github.com/spf13/afero"
)

// TestRepoJSONBounded: the JSON documents mrepo reads from files others
// can hand it (its config, metadata, bundle manifests) are refused when
// nested past jsonlimit.MaxDepth or larger than their limit, before any
// decoder walks them. Staged signing files: staged's TestReadFileBounded.
func TestRepoJSONBounded(t *testing.T) {
	t.Parallel()
	deep := `{"format":"` + configMagic + `","x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
	fs := afero.NewMemMapFs()
	afero.WriteFile(fs, filepath.Join("r", ConfigFile), []byte(deep), 0o644)
	if _, err := readConfig(fs, "r"); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("deep config: %v", err)
	}
	afero.WriteFile(fs, filepath.Join("r", ConfigFile), []byte(`{"format":"`+configMagic+`","pad":"`+strings.Repeat("x", repoconfig.MaxSize)+`"}`), 0o644)
	if _, err := readConfig(fs, "r"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("large config: %v", err)
	}
	afero.WriteFile(fs, "m.json", []byte(strings.Repeat("[", 100)+strings.Repeat("]", 100)), 0o644)
	if _, err := readBounded(fs, "m.json", 1<<20); !errors.Is(err, jsonlimit.ErrTooDeep) {
		t.Fatalf("deep metadata: %v", err)
	}
}
