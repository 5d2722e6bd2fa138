package main

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/delta"
)

// writePair writes an old file, a new one and the patch between them.
func writePair(t *testing.T) (dir string, nw []byte) {
	t.Helper()
	dir = t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	old := make([]byte, 5<<20) // above directio.MinSize: the direct path
	for i := range old {
		old[i] = byte(r.IntN(16))
	}
	nw = bytes.Clone(old)
	for i := 0; i < len(nw); i += 97 {
		nw[i] ^= 1
	}
	var patch bytes.Buffer
	if _, err := delta.Diff(bytes.NewReader(old), int64(len(old)), bytes.NewReader(nw), int64(len(nw)), &patch, delta.Options{}); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"old": old, "patch": patch.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, nw
}

func TestRunRebuildsTheTarget(t *testing.T) {
	dir, nw := writePair(t)
	for _, direct := range []bool{true, false} {
		out := filepath.Join(dir, "out")
		if err := run(filepath.Join(dir, "old"), filepath.Join(dir, "patch"), out, 1, direct); err != nil {
			t.Fatalf("direct %v: %v", direct, err)
		}
		if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, nw) {
			t.Fatalf("direct %v: output differs (%v)", direct, err)
		}
	}
}

// A corrupted patch is refused with delta's error, as on a device.
func TestRunRefusesACorruptPatch(t *testing.T) {
	dir, _ := writePair(t)
	p := filepath.Join(dir, "patch")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(filepath.Join(dir, "old"), p, filepath.Join(dir, "out"), 1, true)
	if !errors.Is(err, delta.ErrFormat) && !errors.Is(err, delta.ErrTarget) {
		t.Fatalf("corrupt patch: %v", err)
	}
}
