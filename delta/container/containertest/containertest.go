// Package containertest writes small model containers (safetensors,
// GGUF v3, TF.js model.json with weight shards) for the tests of package
// container and of its users, and generates "retrained" models whose
// weights moved a little and whose tensors the exporter reordered.
package containertest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Tensor is a tensor to write: DType is a safetensors name ("F32",
// "F16", "I32", "U8"...), Data its bytes.
type Tensor struct {
	Name  string
	DType string
	Shape []int64
	Data  []byte
}

// SafeTensors writes a safetensors file of ts, in order.
func SafeTensors(ts []Tensor) []byte {
	hdr := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var off int
	for _, t := range ts {
		hdr[t.Name] = map[string]any{"dtype": t.DType, "shape": t.Shape, "data_offsets": []int{off, off + len(t.Data)}}
		off += len(t.Data)
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		panic(err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	out = append(out, js...)
	for _, t := range ts {
		out = append(out, t.Data...)
	}
	return out
}

// GGMLTypes are the ggml type numbers of the dtypes GGUF writes.
var GGMLTypes = map[string]uint32{"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8, "Q4_K": 12, "I8": 24, "I32": 26, "BF16": 30}

// GGUF writes a GGUF v3 file of ts, in order, with a few metadata pairs
// (a string, a nested array, general.alignment when alignment is not 0)
// and each tensor's data aligned.
func GGUF(ts []Tensor, alignment int) []byte {
	b := []byte("GGUF")
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(ts)))
	nkv := 2
	if alignment != 0 {
		nkv++
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(nkv))
	b = AppendString(b, "general.name")
	b = binary.LittleEndian.AppendUint32(b, 8)
	b = AppendString(b, "test model")
	// tokenizer-like nested array: [[1 2] [3]] of uint32
	b = AppendString(b, "test.nested")
	b = binary.LittleEndian.AppendUint32(b, 9)
	b = binary.LittleEndian.AppendUint32(b, 9)
	b = binary.LittleEndian.AppendUint64(b, 2)
	for _, row := range [][]uint32{{1, 2}, {3}} {
		b = binary.LittleEndian.AppendUint32(b, 4)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(row)))
		for _, v := range row {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
	}
	align := 32
	if alignment != 0 {
		align = alignment
		b = AppendString(b, "general.alignment")
		b = binary.LittleEndian.AppendUint32(b, 4)
		b = binary.LittleEndian.AppendUint32(b, uint32(alignment))
	}
	var off int
	for _, t := range ts {
		b = AppendString(b, t.Name)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(t.Shape)))
		for _, d := range t.Shape {
			b = binary.LittleEndian.AppendUint64(b, uint64(d))
		}
		typ, ok := GGMLTypes[t.DType]
		if !ok {
			panic("containertest: no ggml type for " + t.DType)
		}
		b = binary.LittleEndian.AppendUint32(b, typ)
		b = binary.LittleEndian.AppendUint64(b, uint64(off))
		off = roundUp(off+len(t.Data), align)
	}
	b = pad(b, align)
	for _, t := range ts {
		b = pad(append(b, t.Data...), align)
	}
	return b
}

// AppendString appends a GGUF string.
func AppendString(b []byte, s string) []byte {
	return append(binary.LittleEndian.AppendUint64(b, uint64(len(s))), s...)
}

func roundUp(n, a int) int { return (n + a - 1) / a * a }

func pad(b []byte, a int) []byte {
	for len(b)%a != 0 {
		b = append(b, 0)
	}
	return b
}

// tfjsDTypes maps safetensors dtype names to TF.js ones.
var tfjsDTypes = map[string]string{"F32": "float32", "I32": "int32", "BOOL": "bool"}

// TFJS writes a TF.js model: model.json (one weight group, named
// prefix-shardN.bin) and the group's shards of shardSize bytes but the
// last.
func TFJS(ts []Tensor, prefix string, shardSize int) (manifest []byte, names []string, shards [][]byte) {
	var all []byte
	var weights []map[string]any
	for _, t := range ts {
		weights = append(weights, map[string]any{"name": t.Name, "shape": t.Shape, "dtype": tfjsDTypes[t.DType]})
		all = append(all, t.Data...)
	}
	for i := 0; i == 0 || i*shardSize < len(all); i++ {
		names = append(names, fmt.Sprintf("%s-shard%dof?.bin", prefix, i+1))
		shards = append(shards, all[i*shardSize:min(len(all), (i+1)*shardSize)])
	}
	m := map[string]any{
		"format": "graph-model", "generatedBy": "containertest",
		"modelTopology":   map[string]any{"node": []any{}},
		"weightsManifest": []any{map[string]any{"paths": names, "weights": weights}},
	}
	js, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return js, names, shards
}

// Model returns n float32 tensors of 1,000 to 20,000 weights each, drawn
// from seed, named layerN.weight.
func Model(seed uint64, n int) []Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	ts := make([]Tensor, n)
	for i := range ts {
		rows, cols := 10+rng.IntN(90), 100+rng.IntN(100)
		w := make([]float32, rows*cols)
		for j := range w {
			w[j] = float32(rng.NormFloat64() * 0.05)
		}
		ts[i] = Tensor{Name: fmt.Sprintf("layer%d.weight", i), DType: "F32", Shape: []int64{int64(rows), int64(cols)}, Data: f32Bytes(w)}
	}
	return ts
}

// Retrain returns ts with every float32 weight scaled by 1 + 0.001 x a
// standard normal draw from seed: a fine-tune that moves every weight.
func Retrain(ts []Tensor, seed uint64) []Tensor {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([]Tensor, len(ts))
	for i, t := range ts {
		d := slices.Clone(t.Data)
		for j := 0; j+4 <= len(d); j += 4 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(d[j:]))
			binary.LittleEndian.PutUint32(d[j:], math.Float32bits(v*float32(1+0.001*rng.NormFloat64())))
		}
		t.Data = d
		out[i] = t
	}
	return out
}

// Shuffle returns ts in an order drawn from seed, as an exporter that
// reorders tensors writes them.
func Shuffle(ts []Tensor, seed uint64) []Tensor {
	out := slices.Clone(ts)
	rand.New(rand.NewPCG(seed, 3)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func f32Bytes(w []float32) []byte {
	b := make([]byte, 0, 4*len(w))
	for _, v := range w {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}
