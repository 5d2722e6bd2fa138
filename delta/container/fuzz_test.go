package container_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
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

// ggufAllTypes is a GGUF file with a metadata pair of every value type (a
// string array among them), alignment 16, and a tensor of an unknown type
// followed by an F32 one.
func ggufAllTypes() []byte {
	b := ggufHeader(2, 14)
	for typ := uint32(0); typ <= 12; typ++ {
		b = binary.LittleEndian.AppendUint32(containertest.AppendString(b, fmt.Sprint("k", typ)), typ)
		switch typ {
		case 8:
			b = containertest.AppendString(b, "v")
		case 9:
			b = containertest.AppendString(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint32(b, 8), 1), "s")
		default:
			b = append(b, make([]byte, sizes[typ])...)
		}
	}
	b = binary.LittleEndian.AppendUint32(containertest.AppendString(b, "general.alignment"), 4)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = ggufTensorInfo(ggufTensorInfo(b, "u", []uint64{4}, 99, 0), "f", []uint64{4}, 0, 32)
	return append(b, make([]byte, 64)...)
}

func TestGGUFAllValueTypes(t *testing.T) {
	file := ggufAllTypes()
	tab, err := container.Parse(bytes.NewReader(file), int64(len(file)), container.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Tensors) != 2 || tab.Tensors[0].Name != "u" || tab.Tensors[0].Length != 32 || tab.Tensors[1].Length != 16 || tab.Tensors[1].Offset%16 != 0 {
		t.Errorf("tensors %+v", tab.Tensors)
	}
}

// sizes are the GGUF metadata scalar types' sizes, by type.
var sizes = map[uint32]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

func FuzzParseGGUF(f *testing.F) {
	f.Add(containertest.GGUF(smallModel(), 0))
	f.Add(containertest.GGUF(smallModel()[:1], 64))
	f.Add(ggufAllTypes())
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
