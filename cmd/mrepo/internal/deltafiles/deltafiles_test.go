package deltafiles

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/directio"
	"github.com/spf13/afero"
)

// TestDeltaFilesRoundTrip: what the command line cannot set (a chunk
// size, an output limit) and what it cannot see (the result's numbers,
// an output left alone on refusal) of mrepo delta create|apply.
func TestDeltaFilesRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	old := make([]byte, 200<<10)
	for i := range old {
		old[i] = byte(rng.Uint32())
	}
	neu := bytes.Clone(old)
	for i := 0; i < len(neu); i += 4096 {
		neu[i] ^= 0xff
	}
	neu = append(neu, "appended tail"...)
	oldPath, newPath, patchPath, outPath := writePair(t, dir, old, neu)
	fs := afero.NewOsFs()

	cr, err := Create(fs, oldPath, newPath, patchPath, CreateOptions{ChunkSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	patch, err := os.ReadFile(patchPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(patch)
	if cr.OldLength != int64(len(old)) || cr.NewLength != int64(len(neu)) || cr.PatchLength != int64(len(patch)) ||
		cr.PatchSHA256 != hex.EncodeToString(sum[:]) || cr.Stats == nil || cr.Stats.PatchLength != cr.PatchLength || cr.Percent >= 100 {
		t.Fatalf("create result %+v (patch %d bytes)", cr, len(patch))
	}

	// An output limit below the patch's target: refused, OUT not created.
	_, err = Apply(fs, oldPath, patchPath, outPath, ApplyOptions{MaxOutput: int64(len(neu)) - 1})
	if !errors.Is(err, delta.ErrLimit) {
		t.Fatalf("apply over MaxOutput: %v, want ErrLimit", err)
	}
	if _, err := os.Stat(outPath); !os.IsNotExist(err) {
		t.Fatalf("OUT after a refused apply: %v, want it absent", err)
	}

	ar, err := Apply(fs, oldPath, patchPath, outPath, ApplyOptions{MaxOutput: int64(len(neu))})
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(neu)
	if !bytes.Equal(out, neu) || ar.OutLength != int64(len(neu)) || ar.OutSHA256 != hex.EncodeToString(want[:]) || ar.PatchLength != cr.PatchLength {
		t.Fatalf("apply result %+v; rebuilt %d bytes, want %d", ar, len(out), len(neu))
	}

	// A wrong base leaves an existing OUT as it was.
	if _, err := Apply(fs, newPath, patchPath, outPath, ApplyOptions{}); !errors.Is(err, delta.ErrBase) {
		t.Fatalf("apply to the wrong base: %v, want ErrBase", err)
	}
	if again, _ := os.ReadFile(outPath); !bytes.Equal(again, neu) {
		t.Fatal("a refused apply changed OUT")
	}
}

// limitHeap lowers the soft memory limit for the diff and restores it;
// it never raises a lower limit (GOMEMLIMIT) the user set.
func TestLimitHeap(t *testing.T) {
	orig := debug.SetMemoryLimit(1 << 40)
	defer debug.SetMemoryLimit(orig)
	restore := limitHeap(200 << 20)
	if got := debug.SetMemoryLimit(-1); got != 200<<20 {
		t.Fatalf("limit %d during the diff, want %d", got, 200<<20)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Fatalf("limit %d after, want it restored", got)
	}
	debug.SetMemoryLimit(100 << 20)
	restore = limitHeap(200 << 20)
	if got := debug.SetMemoryLimit(-1); got != 100<<20 {
		t.Fatalf("limit raised to %d", got)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != 100<<20 {
		t.Fatalf("limit %d after, want 100 MiB kept", got)
	}
	// Diffs running at once (the CLI's tests run several in one process)
	// take turns: the limit is the original again when all are done.
	debug.SetMemoryLimit(1 << 40)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			restore := limitHeap(int64(i+1) << 20)
			if got := debug.SetMemoryLimit(-1); got != int64(i+1)<<20 {
				t.Errorf("limit %d inside diff %d", got, i)
			}
			restore()
		}()
	}
	wg.Wait()
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Fatalf("limit %d after concurrent diffs, want it restored", got)
	}
}

// Outputs under directio.MinSize are written through the page cache, the
// others with direct I/O where the filesystem allows it: both sides of
// the boundary rebuild the file exactly, on the OS filesystem.
func TestApplyEitherSideOfDirectIO(t *testing.T) {
	t.Parallel()
	for _, n := range []int{directio.MinSize - 1, directio.MinSize, directio.MinSize + 4097} {
		dir := t.TempDir()
		old := make([]byte, n)
		r := rand.New(rand.NewPCG(uint64(n), 1))
		for i := range old {
			old[i] = byte(r.IntN(256))
		}
		neu := bytes.Clone(old)
		for i := 0; i < n; i += 10000 {
			neu[i] ^= 0x33
		}
		oldPath, newPath, patchPath, outPath := writePair(t, dir, old, neu)
		fs := afero.NewOsFs()
		if _, err := Create(fs, oldPath, newPath, patchPath, CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := Apply(fs, oldPath, patchPath, outPath, ApplyOptions{}); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if got, err := os.ReadFile(outPath); err != nil || !bytes.Equal(got, neu) {
			t.Fatalf("%d bytes: output differs (%v)", n, err)
		}
	}
}

// writePair writes old and neu into dir and returns their paths and those
// of a patch and an output there.
func writePair(t *testing.T, dir string, old, neu []byte) (oldPath, newPath, patchPath, outPath string) {
	t.Helper()
	oldPath, newPath = filepath.Join(dir, "old.bin"), filepath.Join(dir, "new.bin")
	for p, data := range map[string][]byte{oldPath: old, newPath: neu} {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return oldPath, newPath, filepath.Join(dir, "p.patch"), filepath.Join(dir, "out.bin")
}

// TestManifestFIFONextToModel: a FIFO named model.json next to OLD (or
// given as --old-manifest) is refused before it is opened; opening it
// would block until a writer came.
func TestManifestFIFONextToModel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old, neu := bytes.Repeat([]byte("weights "), 4096), bytes.Repeat([]byte("Weights "), 4096)
	oldPath, newPath, patchPath, _ := writePair(t, dir, old, neu)
	fifo := filepath.Join(filepath.Dir(oldPath), "model.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	fs := afero.NewOsFs()
	if _, err := Create(fs, oldPath, newPath, patchPath, CreateOptions{}); err != nil {
		t.Fatalf("create with a FIFO model.json beside OLD: %v, want it ignored", err)
	}
	if _, err := Create(fs, oldPath, newPath, patchPath, CreateOptions{OldManifest: fifo, NewManifest: fifo}); err == nil {
		t.Fatal("create with a FIFO as --old-manifest: no error")
	}
}
