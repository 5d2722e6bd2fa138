package fleetsim

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestTreeLeavesOutDeviceOwnState: a copy of the bootstrap device's state
// has its trust and model state but not its event log, its lock or its
// telemetry directory (outbox and lock): every device starts with an
// empty outbox of its own.
func TestTreeLeavesOutDeviceOwnState(t *testing.T) {
	src := t.TempDir()
	for rel, data := range map[string]string{
		"client.json":           `{}`,
		"metadata/root.json":    `{}`,
		"events.jsonl":          "{}\n",
		"lock":                  "",
		"telemetry/outbox.json": `{"format":"edgetuf-outbox-v1","reports":[]}`,
		"telemetry/lock":        "",
		"models/m/pointer.json": `{}`,
	} {
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "device")
	if err := readTree(t, src).copyTo(dst); err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	slices.Sort(got)
	want := []string{"client.json", "metadata/root.json", "models/m/pointer.json"}
	if !slices.Equal(got, want) {
		t.Fatalf("copied %v, want %v", got, want)
	}
	if _, err := os.Lstat(filepath.Join(dst, "telemetry")); !os.IsNotExist(err) {
		t.Fatalf("the copy has a telemetry directory: %v", err)
	}
}
