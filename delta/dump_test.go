package delta

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestDumpStreams writes the uncompressed streams of the benchmark pairs
// to $DELTA_DUMP for compressor comparisons (skipped without it).
func TestDumpStreams(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("DELTA_DUMP")
	if dir == "" {
		t.Skip("DELTA_DUMP not set")
	}
	pairs := benchPairs(nil)
	for name, p := range pairs {
		var diffs, extras bytes.Buffer
		dump := func(ctrl, diff, extra []byte) { diffs.Write(diff); extras.Write(extra) }
		if _, err := Diff(bytes.NewReader(p[0]), int64(len(p[0])), bytes.NewReader(p[1]), int64(len(p[1])), io.Discard, Options{dump: dump}); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name+".diff"), diffs.Bytes(), 0o644)
		os.WriteFile(filepath.Join(dir, name+".extra"), extras.Bytes(), 0o644)
	}
}
