package delta

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// exclusiveReaderAt fails any ReadAt that starts while another is running,
// as a reader with a seek position (afero's in-memory files) would go
// wrong.
type exclusiveReaderAt struct {
	r       io.ReaderAt
	busy    atomic.Int32
	overlap atomic.Bool
}

func (e *exclusiveReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if !e.busy.CompareAndSwap(0, 1) {
		e.overlap.Store(true)
		return 0, errors.New("concurrent ReadAt")
	}
	defer e.busy.Store(0)
	time.Sleep(100 * time.Microsecond) // widen the window
	return e.r.ReadAt(p, off)
}

func TestApplySerializesPatchReads(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(21, 22))
	base := floats(r, 1<<20) // 4 MiB
	target := bytes.Clone(base)
	for i := 0; i < len(target); i += 4096 {
		target[i] ^= 1 // every page changed a little: diff stream
	}
	copy(target[len(target)-256<<10:], randomBytes(256<<10)) // extra stream
	var patch bytes.Buffer
	if _, err := Diff(bytes.NewReader(base), int64(len(base)), bytes.NewReader(target), int64(len(target)), &patch, Options{}); err != nil {
		t.Fatal(err)
	}
	pr := &exclusiveReaderAt{r: bytes.NewReader(patch.Bytes())}
	var out bytes.Buffer
	if _, err := Apply(bytes.NewReader(base), int64(len(base)), pr, int64(patch.Len()), &out, Limits{}); err != nil {
		t.Fatalf("apply: %v (overlapping reads: %v)", err, pr.overlap.Load())
	}
	if !bytes.Equal(out.Bytes(), target) {
		t.Fatal("wrong output")
	}
}
