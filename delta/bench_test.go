package delta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"testing"
)

// benchPairs are 64 MiB model-like pairs: the last 4 MiB of weights
// replaced, and every weight moved by about 0.1%.
func benchPairs(b testing.TB) map[string][2][]byte { return sizedPairs(64 << 20) }

// sizedPairs are benchPairs of size bytes: the last 1/16 of the weights
// replaced, and every weight moved by about 0.1%.
func sizedPairs(size int) map[string][2][]byte {
	r := rand.New(rand.NewPCG(7, 8))
	n := size / 4 // float32 weights
	base := floats(r, n)
	tail := bytes.Clone(base)
	copy(tail[len(tail)-size/16:], floats(r, n/16))
	fine := make([]byte, len(base))
	for i := 0; i < n; i++ {
		f := math.Float32frombits(binary.LittleEndian.Uint32(base[4*i:]))
		f *= float32(1 + r.NormFloat64()*0.001)
		binary.LittleEndian.PutUint32(fine[4*i:], math.Float32bits(f))
	}
	return map[string][2][]byte{"tail": {base, tail}, "finetune": {base, fine}}
}

func BenchmarkDiff64MiB(b *testing.B) {
	pairs := benchPairs(b)
	for _, name := range []string{"tail", "finetune"} {
		p := pairs[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(p[1])))
			var n int64
			for i := 0; i < b.N; i++ {
				st, err := Diff(bytes.NewReader(p[0]), int64(len(p[0])), bytes.NewReader(p[1]), int64(len(p[1])), io.Discard, Options{})
				if err != nil {
					b.Fatal(err)
				}
				n = st.PatchLength
			}
			b.ReportMetric(100*float64(n)/float64(len(p[1])), "patch%")
		})
	}
}

func BenchmarkApply64MiB(b *testing.B) { benchApply(b, "", benchPairs(b)) }

// BenchmarkApplySmall applies 1 and 4 MiB patches, where Apply's fixed
// costs (decoders, buffers, goroutines) weigh most; B/op is its memory.
func BenchmarkApplySmall(b *testing.B) {
	for _, size := range []int{1 << 20, 4 << 20} {
		benchApply(b, fmt.Sprintf("%dMiB/", size>>20), sizedPairs(size))
	}
}

func benchApply(b *testing.B, prefix string, pairs map[string][2][]byte) {
	for _, name := range []string{"tail", "finetune"} {
		p := pairs[name]
		var patch bytes.Buffer
		if _, err := Diff(bytes.NewReader(p[0]), int64(len(p[0])), bytes.NewReader(p[1]), int64(len(p[1])), &patch, Options{}); err != nil {
			b.Fatal(err)
		}
		b.Run(prefix+name, func(b *testing.B) {
			b.SetBytes(int64(len(p[1])))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := Apply(bytes.NewReader(p[0]), int64(len(p[0])), bytes.NewReader(patch.Bytes()), int64(patch.Len()), io.Discard, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(100*float64(patch.Len())/float64(len(p[1])), "patch%")
		})
	}
}
