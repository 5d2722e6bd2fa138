package container_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/delta/container"
	"github.com/edgetuf/edgetuf/delta/container/containertest"
)

// sample is a small model of assorted dtypes and shapes.
func sample() []containertest.Tensor {
	ts := containertest.Model(7, 3)
	ts = append(ts,
		containertest.Tensor{Name: "bias", DType: "F32", Shape: []int64{3}, Data: make([]byte, 12)},
		containertest.Tensor{Name: "ids", DType: "I32", Shape: []int64{2, 2}, Data: []byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0}},
		containertest.Tensor{Name: "empty", DType: "F32", Shape: []int64{0, 4}, Data: nil},
	)
	return ts
}

// parseTable parses file, asserts that it is a container of format
// holding ts (in file order) and that each tensor's bytes are its data.
func parseTable(t *testing.T, file []byte, format container.Format, ts []containertest.Tensor) *container.Table {
	t.Helper()
	tab, err := container.Parse(bytes.NewReader(file), int64(len(file)), container.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Format != format {
		t.Fatalf("format %s, want %s", tab.Format, format)
	}
	if len(tab.Tensors) != len(ts) {
		t.Fatalf("%d tensors, want %d", len(tab.Tensors), len(ts))
	}
	for i, x := range tab.Tensors {
		want := ts[i]
		if x.Name != want.Name || x.DType != want.DType || !reflect.DeepEqual(x.Shape, want.Shape) || x.Length != int64(len(want.Data)) {
			t.Errorf("tensor %d = %s %s %v %d bytes, want %s %s %v %d", i, x.Name, x.DType, x.Shape, x.Length, want.Name, want.DType, want.Shape, len(want.Data))
		}
		if !bytes.Equal(file[x.Offset:x.Offset+x.Length], want.Data) {
			t.Errorf("tensor %s: the bytes at offset %d are not its data", x.Name, x.Offset)
		}
	}
	return tab
}

func dtypeOf(ts []containertest.Tensor, name string) string {
	for _, x := range ts {
		if x.Name == name {
			return x.DType
		}
	}
	return ""
}

func TestSafeTensorsRoundTrip(t *testing.T) {
	ts := sample()
	parseTable(t, containertest.SafeTensors(ts), container.SafeTensors, ts)
}

func TestGGUFRoundTrip(t *testing.T) {
	for _, align := range []int{0, 64} {
		t.Run(fmt.Sprint("alignment ", align), func(t *testing.T) {
			ts := sample()[:5]
			ts = append(ts, containertest.Tensor{Name: "q", DType: "Q4_0", Shape: []int64{64, 2}, Data: bytes.Repeat([]byte{7}, 4*18)},
				containertest.Tensor{Name: "k", DType: "Q4_K", Shape: []int64{256}, Data: bytes.Repeat([]byte{9}, 144)})
			tab := parseTable(t, containertest.GGUF(ts, align), container.GGUF, ts)
			a := int64(max(align, 32))
			for _, x := range tab.Tensors {
				if x.Offset%a != 0 {
					t.Errorf("tensor %s at %d, not aligned to %d", x.Name, x.Offset, a)
				}
			}
		})
	}
}

// An unknown ggml type gets the bytes up to the next tensor.
func TestGGUFUnknownTypeBoundedByNext(t *testing.T) {
	ts := sample()[:2]
	file := containertest.GGUF(ts, 0)
	tab, err := container.Parse(bytes.NewReader(file), int64(len(file)), container.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the first tensor's type (F32 = 0) to 99.
	name := []byte(ts[0].Name)
	at := bytes.Index(file, name) + len(name) + 4 + 8*len(ts[0].Shape)
	binary.LittleEndian.PutUint32(file[at:], 99)
	tab2, err := container.Parse(bytes.NewReader(file), int64(len(file)), container.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	x := tab2.Tensors[0]
	if x.DType != "GGML_TYPE_99" || x.Offset != tab.Tensors[0].Offset || x.Offset+x.Length != tab.Tensors[1].Offset {
		t.Errorf("unknown-type tensor = %+v, want it to end where %s starts (%d)", x, tab.Tensors[1].Name, tab.Tensors[1].Offset)
	}
	last := tab2.Tensors[1]
	if last.Length != int64(len(ts[1].Data)) {
		t.Errorf("known tensor length %d", last.Length)
	}
}

func TestTFJSRoundTrip(t *testing.T) {
	ts := sample()[:5]
	manifest, names, shards := containertest.TFJS(ts, "group1", 10000)
	if len(shards) < 3 {
		t.Fatalf("only %d shards", len(shards))
	}
	// Reassemble the tensors from the shards' tables.
	got := map[string][]byte{}
	for i, name := range names {
		tab, err := container.ParseTFJS(manifest, name, int64(len(shards[i])), container.Limits{})
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		for _, x := range tab.Tensors {
			if x.Offset < 0 || x.Offset+x.Length > int64(len(shards[i])) {
				t.Fatalf("shard %d: tensor %s outside the shard", i, x.Name)
			}
			if x.Skip != int64(len(got[x.Name])) {
				t.Errorf("shard %d: tensor %s skips %d bytes, %d came before", i, x.Name, x.Skip, len(got[x.Name]))
			}
			got[x.Name] = append(got[x.Name], shards[i][x.Offset:x.Offset+x.Length]...)
			if want := dtypeOf(ts, x.Name); x.DType != want {
				t.Errorf("%s: dtype %s, want %s", x.Name, x.DType, want)
			}
		}
	}
	for _, x := range ts {
		if !bytes.Equal(got[x.Name], x.Data) {
			t.Errorf("tensor %s: %d bytes reassembled from the shards, want its %d bytes of data", x.Name, len(got[x.Name]), len(x.Data))
		}
	}
	// A shard of a size the manifest rules out is refused: the last one a
	// byte longer, any other half as long. (A full shard a byte longer
	// may fit: one shard's size does not tell the others'.)
	last := len(names) - 1
	if _, err := container.ParseTFJS(manifest, names[last], int64(len(shards[last]))+1, container.Limits{}); !errors.Is(err, container.ErrFormat) {
		t.Errorf("last shard a byte longer: %v, want ErrFormat", err)
	}
	for i, name := range names[:last] {
		if _, err := container.ParseTFJS(manifest, name, int64(len(shards[i]))/2, container.Limits{}); !errors.Is(err, container.ErrFormat) {
			t.Errorf("shard %d half as long: %v, want ErrFormat", i, err)
		}
	}
	one, oneNames, oneShards := containertest.TFJS(ts, "one", 1<<20)
	if len(oneShards) != 1 {
		t.Fatal("want one shard")
	}
	if tab, err := container.ParseTFJS(one, "", int64(len(oneShards[0])), container.Limits{}); err != nil || len(tab.Tensors) != len(ts) {
		t.Errorf("the only shard, unnamed: %v", err)
	}
	if _, err := container.ParseTFJS(manifest, "", int64(len(shards[0])), container.Limits{}); !errors.Is(err, container.ErrUnknown) {
		t.Errorf("one of %d shards, unnamed: %v, want ErrUnknown", len(shards), err)
	}
	for _, delta := range []int64{-1, 1} {
		if _, err := container.ParseTFJS(one, oneNames[0], int64(len(oneShards[0]))+delta, container.Limits{}); !errors.Is(err, container.ErrFormat) {
			t.Errorf("only shard %+d bytes: %v, want ErrFormat", delta, err)
		}
	}
	if _, err := container.ParseTFJS(manifest, "other.bin", 100, container.Limits{}); !errors.Is(err, container.ErrUnknown) {
		t.Errorf("unnamed shard: %v, want ErrUnknown", err)
	}
}

// Quantized weights are stored at the quantization dtype's size.
func TestTFJSQuantized(t *testing.T) {
	m := `{"weightsManifest":[{"paths":["w.bin"],"weights":[
		{"name":"a","shape":[10],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.1,"min":-1}},
		{"name":"b","shape":[3],"dtype":"float32","quantization":{"dtype":"float16"}},
		{"name":"c","shape":[2],"dtype":"int32"},
		{"name":"d","shape":[5],"dtype":"bool"}]}]}`
	tab, err := container.ParseTFJS([]byte(m), "w.bin", 10+6+8+5, container.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []container.Tensor{
		{Name: "a", DType: "U8", Shape: []int64{10}, Offset: 0, Length: 10},
		{Name: "b", DType: "F16", Shape: []int64{3}, Offset: 10, Length: 6},
		{Name: "c", DType: "I32", Shape: []int64{2}, Offset: 16, Length: 8},
		{Name: "d", DType: "BOOL", Shape: []int64{5}, Offset: 24, Length: 5},
	}
	if !reflect.DeepEqual(tab.Tensors, want) {
		t.Errorf("got %+v\nwant %+v", tab.Tensors, want)
	}
}

func TestUnknownFormats(t *testing.T) {
	for _, file := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{0xAB}, 1000), []byte("PK\x03\x04 a zip file, say")} {
		if _, err := container.Parse(bytes.NewReader(file), int64(len(file)), container.Limits{}); !errors.Is(err, container.ErrUnknown) {
			t.Errorf("%q: %v, want ErrUnknown", file[:min(len(file), 8)], err)
		}
	}
}

func TestPairTensors(t *testing.T) {
	tt := func(name, dtype string, n int64, off int64) container.Tensor {
		return container.Tensor{Name: name, DType: dtype, Shape: []int64{n}, Offset: off, Length: 4 * n}
	}
	old := &container.Table{Tensors: []container.Tensor{tt("a", "F32", 2, 0), tt("b", "F32", 3, 8), tt("x", "F32", 5, 20), tt("y", "F32", 5, 40), tt("z", "F16", 5, 60)}}
	nw := &container.Table{Tensors: []container.Tensor{tt("b", "F32", 3, 0), tt("y2", "F32", 5, 12), tt("a", "F32", 4, 32), tt("x2", "F32", 5, 48), tt("w", "F32", 7, 68), tt("z2", "F32", 5, 96)}}
	got := container.PairTensors(old, nw)
	var desc []string
	for _, p := range got {
		desc = append(desc, p.Old.Name+"-"+p.New.Name)
	}
	// By name (a keeps its name though its shape changed), then by dtype
	// and shape in order: x with y2, y with x2; z (F16) pairs with none.
	if want := "b-b x-y2 a-a y-x2"; strings.Join(desc, " ") != want {
		t.Errorf("pairs %v, want %s", desc, want)
	}
	moves := container.Moves(got)
	for _, m := range moves {
		if m.NewOffset == m.OldOffset || m.Length <= 0 {
			t.Errorf("move %+v", m)
		}
	}
	if len(moves) != 4 || moves[2].Length != 8 { // a: 8 old bytes, 16 new: the shorter
		t.Errorf("moves %+v", moves)
	}
}

// The parts of a TF.js tensor cut at shard bounds pair only where they
// hold the same bytes of the tensor.
func TestMovesOfShardParts(t *testing.T) {
	part := func(off, length, skip int64) container.Tensor {
		return container.Tensor{Name: "x", DType: "F32", Shape: []int64{100}, Offset: off, Length: length, Skip: skip}
	}
	for _, c := range []struct {
		old, new container.Tensor
		want     []container.Move
	}{
		{part(0, 400, 0), part(40, 400, 0), []container.Move{{NewOffset: 40, OldOffset: 0, Length: 400}}},
		// The old shard holds bytes 100-400 of the tensor, the new one 0-250.
		{part(0, 300, 100), part(50, 250, 0), []container.Move{{NewOffset: 150, OldOffset: 0, Length: 150}}},
		// Disjoint parts: no move.
		{part(0, 100, 300), part(0, 200, 0), nil},
	} {
		if got := container.Moves([]container.Pair{{Old: c.old, New: c.new}}); !reflect.DeepEqual(got, c.want) {
			t.Errorf("old %+v, new %+v: moves %+v, want %+v", c.old, c.new, got, c.want)
		}
	}
}

func TestNormalizeMoves(t *testing.T) {
	in := []container.Move{{NewOffset: 50, OldOffset: 0, Length: 100}, {NewOffset: 0, OldOffset: 10, Length: 60}, {NewOffset: -1, OldOffset: 0, Length: 5}, {NewOffset: 5, OldOffset: 95, Length: 5}}
	got := container.NormalizeMoves(in, 100, 120)
	want := []container.Move{{NewOffset: 0, OldOffset: 10, Length: 60}, {NewOffset: 60, OldOffset: 10, Length: 60}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// memDelta returns the bytes allocated by f.
func memDelta(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}
