package cliutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadBounded(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadBounded(p, 5); err != nil || string(data) != "12345" {
		t.Errorf("at the bound: %q %v", data, err)
	}
	if _, err := ReadBounded(p, 4); err == nil || !strings.Contains(err.Error(), "larger than 4 bytes") {
		t.Errorf("over the bound: %v", err)
	}
	if _, err := ReadBounded(p+".missing", 4); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
