package container_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/edgetuf/edgetuf/delta/container"
	"github.com/edgetuf/edgetuf/delta/container/containertest"
)

// fuzzLimits keep each input's worst case small.
var fuzzLimits = container.Limits{MaxTensors: 1000, MaxHeader: 1 << 20}

// fuzzParse: any input is parsed without panic into a table that keeps
// the invariant, or refused with ErrFormat or ErrUnknown.
func fuzzParse(t *testing.T, file []byte) {
	tab, err := container.Parse(bytes.NewReader(file), int64(len(file)), fuzzLimits)
	if err != nil {
		if !errors.Is(err, container.ErrFormat) && !errors.Is(err, container.ErrUnknown) {
			t.Fatalf("error of no known class: %v", err)
		}
		return
	}
	checkInvariant(t, tab, int64(len(file)))
}

func smallModel() []containertest.Tensor {
	return []containertest.Tensor{
		{Name: "w", DType: "F32", Shape: []int64{2, 2}, Data: make([]byte, 16)},
		{Name: "b", DType: "F32", Shape: []int64{2}, Data: make([]byte, 8)},
		{Name: "q", DType: "Q8_0", Shape: []int64{32}, Data: make([]byte, 34)},
	}
}

func FuzzParseSafeTensors(f *testing.F) {
	f.Add(containertest.SafeTensors(smallModel()[:2]))
	f.Fuzz(fuzzParse)
}

func FuzzParseGGUF(f *testing.F) {
	f.Add(containertest.GGUF(smallModel(), 0))
	f.Add(containertest.GGUF(smallModel()[:1], 64))
	f.Fuzz(fuzzParse)
}

func FuzzParseTFJS(f *testing.F) {
	manifest, names, shards := containertest.TFJS(smallModel()[:2], "g", 16)
	f.Add(manifest, names[0], int64(len(shards[0])))
	f.Add(manifest, names[1], int64(len(shards[1])))
	f.Add([]byte(`{"weightsManifest":[{"paths":["s"],"weights":[{"name":"a","shape":[4],"dtype":"float32","quantization":{"dtype":"uint8","scale":1,"min":0}}]}]}`), "s", int64(4))
	f.Fuzz(func(t *testing.T, manifest []byte, shard string, size int64) {
		tab, err := container.ParseTFJS(manifest, shard, size, fuzzLimits)
		if err != nil {
			if !errors.Is(err, container.ErrFormat) && !errors.Is(err, container.ErrUnknown) {
				t.Fatalf("error of no known class: %v", err)
			}
			return
		}
		checkInvariant(t, tab, size)
	})
}
