package delta

// Diff handed hostile model containers: tables that point past the old
// file, and a million tiny tensors.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/edgetuf/edgetuf/delta/container"
	"github.com/edgetuf/edgetuf/delta/container/containertest"
)

// An old container whose tensors lie past its end (a truncated file, or
// offsets near 2^63) does not parse, so nothing pairs with regions
// outside the old file: Diff codes the new file against the old bytes and
// the patch applies.
func TestDiffOldContainerPastItsEnd(t *testing.T) {
	t.Parallel()
	model := containertest.Model(21, 6)
	nw := containertest.GGUF(containertest.Shuffle(containertest.Retrain(model, 22), 23), 0)
	whole := containertest.GGUF(model, 0)
	huge := bytes.Clone(whole)
	// The first tensor info's offset (after its name, rank, dims and
	// type) set to 2^63-32: past the file, and overflowing once the data
	// section's start is added.
	name := []byte(model[0].Name)
	at := bytes.Index(huge, name) + len(name)
	at += 4 + 8*len(model[0].Shape) + 4
	binary.LittleEndian.PutUint64(huge[at:], 1<<63-32)
	for name, old := range map[string][]byte{"truncated": whole[:len(whole)/2], "offset 2^63": huge} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := container.Parse(bytes.NewReader(old), int64(len(old)), container.Limits{}); err == nil {
				t.Fatal("the hostile old container parses")
			}
			st, _ := roundTrip(t, old, nw, Options{})
			if st.Container != "gguf" || st.PairedTensors != 0 || st.MovedTensors != 0 {
				t.Errorf("stats %+v: tensors paired with a malformed old container", st)
			}
		})
	}
}

// tinyTensorModel is a GGUF of n 4-byte F32 tensors, 4-byte aligned, and
// the same tensors retrained and in reverse order: every tensor moved.
func tinyTensorModel(n int) (old, nw []byte) {
	ts := make([]containertest.Tensor, n)
	for i := range ts {
		ts[i] = containertest.Tensor{Name: fmt.Sprint("t", i), DType: "F32", Shape: []int64{1}, Data: binary.LittleEndian.AppendUint32(nil, uint32(i)*2654435761)}
	}
	old = containertest.GGUF(ts, 4)
	rev := make([]containertest.Tensor, n)
	for i, x := range ts {
		x.Data = binary.LittleEndian.AppendUint32(nil, binary.LittleEndian.Uint32(x.Data)^1)
		rev[n-1-i] = x
	}
	return old, containertest.GGUF(rev, 4)
}

// 2^16 tiny tensors, each moved: all are paired, and the patch applies.
// The time and memory of 2^20 (the most a parse returns) are measured by
// BenchmarkDiffTinyTensors.
func TestDiffManyTinyTensors(t *testing.T) {
	t.Parallel()
	old, nw := tinyTensorModel(1 << 16)
	st, _ := roundTrip(t, old, nw, Options{})
	if st.Container != "gguf" || st.PairedTensors != 1<<16 || st.MovedTensors != 1<<16 {
		t.Errorf("stats %+v", st)
	}
}

func BenchmarkDiffTinyTensors(b *testing.B) {
	for _, n := range []int{1 << 16, 1 << 20} {
		old, nw := tinyTensorModel(n)
		for _, noContainers := range []bool{false, true} {
			b.Run(fmt.Sprintf("tensors=%d/nocontainers=%v", n, noContainers), func(b *testing.B) {
				b.SetBytes(int64(len(nw)))
				b.ReportAllocs()
				var patch bytes.Buffer
				for b.Loop() {
					patch.Reset()
					if _, err := Diff(bytes.NewReader(old), int64(len(old)), bytes.NewReader(nw), int64(len(nw)), &patch, Options{NoContainers: noContainers}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(patch.Len()), "patch-bytes")
			})
		}
	}
}
