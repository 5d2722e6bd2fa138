package delta

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestApplyRecoversPanicsInEveryStage injects a panic into each stage of
// Apply (through applyHooks, which only this package's tests can set):
// Apply's own goroutine, the read-ahead goroutines that decompress the
// diff and extra streams, and the hashing and writing goroutines. Each
// time Apply returns an error wrapping ErrInternal, the process survives,
// and no goroutine is left behind.
func TestApplyRecoversPanicsInEveryStage(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	base := floats(r, 1<<20) // 4 MiB
	target := bytes.Clone(base)
	for i := 0; i < len(target); i += 4096 {
		target[i] ^= 1 // diff stream
	}
	copy(target[len(target)-256<<10:], randomBytes(256<<10)) // extra stream
	var patch bytes.Buffer
	if _, err := Diff(bytes.NewReader(base), int64(len(base)), bytes.NewReader(target), int64(len(target)), &patch, Options{}); err != nil {
		t.Fatal(err)
	}
	boom := func() { panic("injected") }
	for _, c := range []struct {
		stage string
		hooks applyHooks
	}{
		{"rebuilding", applyHooks{record: boom}},
		{"read-ahead", applyHooks{readAhead: boom}},
		{"hash", applyHooks{hash: boom}},
		{"write", applyHooks{write: boom}},
	} {
		t.Run(c.stage, func(t *testing.T) {
			before := runtime.NumGoroutine()
			var out bytes.Buffer
			_, err := apply(bytes.NewReader(base), int64(len(base)), bytes.NewReader(patch.Bytes()), int64(patch.Len()), &out, Limits{}, &c.hooks)
			if !errors.Is(err, ErrInternal) || !strings.Contains(err.Error(), "injected") {
				t.Fatalf("error %v, want ErrInternal with the panic", err)
			}
			waitGoroutines(t, before)
		})
	}
	// The hooks are no-ops when unset: the same patch applies.
	var out bytes.Buffer
	if _, err := apply(bytes.NewReader(base), int64(len(base)), bytes.NewReader(patch.Bytes()), int64(patch.Len()), &out, Limits{}, &applyHooks{}); err != nil || !bytes.Equal(out.Bytes(), target) {
		t.Fatalf("without faults: %v", err)
	}
}

// waitGoroutines fails unless the goroutine count is back to before (the
// testing package's own goroutines end asynchronously, hence the wait).
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); runtime.NumGoroutine() > before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after a failed Apply, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
	}
}
