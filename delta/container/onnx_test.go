package container

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// Protocol buffer writing for tests.

func pbVarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func pbTag(b []byte, num, wire uint64) []byte { return pbVarint(b, num<<3|wire) }

func pbUint(b []byte, num, v uint64) []byte { return pbVarint(pbTag(b, num, wireVarint), v) }

func pbBytes(b []byte, num uint64, payload []byte) []byte {
	return append(pbVarint(pbTag(b, num, wireBytes), uint64(len(payload))), payload...)
}

type onnxInit struct {
	name      string
	dataType  uint64
	dims      []int64
	data      []byte
	dataField uint64 // 0: raw_data (9)
	packDims  bool
	external  bool
}

func (in onnxInit) encode() []byte {
	var t []byte
	if in.packDims {
		var packed []byte
		for _, d := range in.dims {
			packed = pbVarint(packed, uint64(d))
		}
		t = pbBytes(t, 1, packed)
	} else {
		for _, d := range in.dims {
			t = pbUint(t, 1, uint64(d))
		}
	}
	t = pbUint(t, 2, in.dataType)
	t = pbBytes(t, 8, []byte(in.name))
	if in.external {
		t = pbBytes(t, 13, pbBytes(pbBytes(nil, 1, []byte("location")), 2, []byte("weights.bin")))
		t = pbUint(t, 14, 1)
		return t
	}
	field := in.dataField
	if field == 0 {
		field = 9
	}
	return pbBytes(t, field, in.data)
}

// onnxModel writes a ModelProto whose graph holds a node, then the
// initializers, then graphTail (raw graph fields).
func onnxModel(inits []onnxInit, graphTail []byte) []byte {
	var g []byte
	node := pbBytes(pbBytes(pbBytes(nil, 1, []byte("x")), 2, []byte("y")), 4, []byte("Relu"))
	g = pbBytes(g, 1, node)
	g = pbBytes(g, 2, []byte("main"))
	for _, in := range inits {
		g = pbBytes(g, 5, in.encode())
	}
	g = append(g, graphTail...)
	var m []byte
	m = pbUint(m, 1, 8)
	m = pbBytes(m, 2, []byte("pytorch"))
	m = pbBytes(m, 3, []byte("2.1.0"))
	m = pbBytes(m, 7, g)
	m = pbBytes(m, 8, pbUint(pbBytes(nil, 1, nil), 2, 17))
	return m
}

func testONNX() ([]byte, []onnxInit) {
	inits := []onnxInit{
		{name: "fc.weight", dataType: 1, dims: []int64{4, 3}, data: bytes.Repeat([]byte{1}, 48)},
		{name: "fc.bias", dataType: 1, dims: []int64{3}, data: bytes.Repeat([]byte{2}, 12), dataField: 4, packDims: true},
		{name: "steps", dataType: 7, dims: []int64{2}, data: []byte{5, 0x96, 0x01}, dataField: 7},
		{name: "far", dataType: 1, dims: []int64{1 << 20}, external: true},
		{name: "empty", dataType: 1, dims: []int64{0}},
		{name: "half", dataType: 10, dims: []int64{2}, data: []byte{3, 3, 3, 3}},
		{name: "odd", dataType: 99, dims: []int64{1}, data: []byte{4}},
		{name: "dbl", dataType: 11, dims: []int64{1}, data: bytes.Repeat([]byte{6}, 8), dataField: 10},
	}
	return onnxModel(inits, pbBytes(nil, 11, []byte("input info"))), inits
}

func TestONNXRoundTrip(t *testing.T) {
	file, _ := testONNX()
	table, err := parseONNX(bytes.NewReader(file), int64(len(file)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	at := func(data []byte) int64 { return int64(bytes.Index(file, data)) }
	want := []Tensor{
		{Name: "fc.weight", DType: "F32", Shape: []int64{4, 3}, Offset: at(bytes.Repeat([]byte{1}, 48)), Length: 48},
		{Name: "fc.bias", DType: "F32", Shape: []int64{3}, Offset: at(bytes.Repeat([]byte{2}, 12)), Length: 12},
		{Name: "steps", DType: "VARINT", Shape: []int64{2}, Offset: at([]byte{5, 0x96, 0x01}), Length: 3},
		{Name: "half", DType: "F16", Shape: []int64{2}, Offset: at([]byte{3, 3, 3, 3}), Length: 4},
		{Name: "odd", DType: "ONNX_TYPE_99", Shape: []int64{1}, Offset: at([]byte("odd")) + 5, Length: 1},
		{Name: "dbl", DType: "F64", Shape: []int64{1}, Offset: at(bytes.Repeat([]byte{6}, 8)), Length: 8},
	}
	if table.Format != ONNX || !reflect.DeepEqual(table.Tensors, want) {
		t.Fatalf("got %+v\nwant %+v", table.Tensors, want)
	}
}

func TestIsONNX(t *testing.T) {
	file, _ := testONNX()
	cases := []struct {
		head []byte
		want bool
	}{
		{file, true},
		{file[:20], true}, // the graph's tag, its length past head
		{file[:12], false},
		{onnxModel(nil, nil), true},
		{nil, false},
		{[]byte("\x08\x00\x12\x01x:\x00"), false},          // ir_version 0
		{[]byte("\x08\x15\x12\x01x:\x00"), false},          // ir_version 21
		{[]byte(":\x02\x08\x01"), false},                   // graph first
		{[]byte("\x08\x07\x12\x01x\x42\x01x:\x00"), false}, // field 8 before the graph
		{[]byte("\x08\x07\x10\x01:\x00"), false},           // producer_name as a varint
		{[]byte("\x08\x07\x32\x7fdoc"), false},             // doc string past head
		{[]byte("GGUF\x03\x00\x00\x00"), false},
		{[]byte("{\"__metadata__\":{}}"), false},
	}
	for _, c := range cases {
		if got := isONNX(c.head); got != c.want {
			t.Errorf("isONNX(%q) = %v, want %v", c.head, got, c.want)
		}
	}
}

func TestONNXNotONNX(t *testing.T) {
	for _, file := range [][]byte{nil, []byte("TFL3"), []byte("\x08\x07\x12\x03abc")} {
		if _, err := parseONNX(bytes.NewReader(file), int64(len(file)), Limits{}); !errors.Is(err, ErrUnknown) {
			t.Errorf("%q: %v, want ErrUnknown", file, err)
		}
	}
}

func TestONNXMalicious(t *testing.T) {
	file, _ := testONNX()
	long := bytes.Repeat([]byte{0x80}, 10)
	varint11 := append(long, 0x01)
	overflow := append(bytes.Repeat([]byte{0xff}, 9), 0x02)
	one := func(in onnxInit) []byte { return onnxModel([]onnxInit{in}, nil) }
	w := onnxInit{name: "w", dataType: 1, dims: []int64{1}, data: []byte{1, 2, 3, 4}}
	var many []onnxInit
	for i := range 11 {
		many = append(many, onnxInit{name: string(rune('a' + i)), dataType: 2, data: []byte{1}})
	}
	twoData := pbBytes(w.encode(), 4, []byte{1, 2, 3, 4})
	withDims := func(dims []byte) []byte { return onnxModel(nil, pbBytes(nil, 5, append(dims, w.encode()...))) }
	refuseAll(t, parseONNX, []hostile{
		{name: "11-byte varint tag in the graph", file: onnxModel(nil, varint11)},
		{name: "overflowing varint in the graph", file: onnxModel(nil, overflow)},
		{name: "11-byte varint dims", file: withDims(append([]byte{0x08}, varint11...))},
		{name: "11-byte varint length", file: onnxModel(nil, append([]byte{0x2a}, varint11...))},
		{name: "initializer past the graph", file: onnxModel(nil, []byte{0x2a, 0x7f, 0x00})},
		{name: "graph past the end", file: onnxModel(nil, nil)[:30], size: 30},
		{name: "graph length past the end", file: append([]byte("\x08\x07\x3a\xff\xff\xff\xff\x0f"), 0)},
		{name: "field number 0", file: onnxModel(nil, []byte{0x02, 0x00})},
		{name: "group wire type", file: onnxModel(nil, []byte{0x5b, 0x5c})},
		{name: "initializer as a varint", file: onnxModel(nil, []byte{0x28, 0x01})},
		{name: "graph as a varint", file: []byte("\x08\x07:\x00\x38\x01")},
		{name: "two graphs", file: append(onnxModel(nil, nil), 0x3a, 0x00)},
		{name: "two data fields", file: onnxModel(nil, pbBytes(nil, 5, twoData))},
		{name: "repeated name", file: onnxModel([]onnxInit{w, w}, nil)},
		{name: "too many dimensions", file: one(onnxInit{name: "w", dims: make([]int64, maxDims+1), data: []byte{1}})},
		{name: "too many packed dimensions", file: one(onnxInit{name: "w", dims: make([]int64, maxDims+1), data: []byte{1}, packDims: true})},
		{name: "too many initializers", file: onnxModel(many, nil), lim: Limits{MaxTensors: 10}},
		{name: "too many model fields", file: append(onnxModel(nil, nil), bytes.Repeat([]byte{0x50, 0x01}, 20)...), lim: Limits{MaxTensors: 10}},
		{name: "header past MaxHeader", file: one(onnxInit{name: string(make([]byte, 8000)), data: []byte{1}}), lim: Limits{MaxHeader: 4 << 10}},
		{name: "short reader", file: file[:len(file)-1], size: int64(len(file))},
	})
}

func TestONNXDeepNestingSkipped(t *testing.T) {
	// A node holding 100,000 nested messages (a nested graph, say) is
	// skipped by its length: never read, however deep. Built back to
	// front: each level's tag and length are prepended, reversed.
	var reversed []byte
	for range 100000 {
		head := pbBytes(nil, 1, nil)
		head = pbVarint(head[:1], uint64(len(reversed)))
		for i := len(head) - 1; i >= 0; i-- {
			reversed = append(reversed, head[i])
		}
	}
	nested := make([]byte, len(reversed))
	for i, c := range reversed {
		nested[len(nested)-1-i] = c
	}
	w := onnxInit{name: "w", dataType: 1, dims: []int64{1}, data: []byte{1, 2, 3, 4}}
	file := onnxModel([]onnxInit{w}, pbBytes(nil, 1, nested))
	r := &countingReaderAt{r: bytes.NewReader(file)}
	table, err := parseONNX(r, int64(len(file)), Limits{})
	if err != nil || len(table.Tensors) != 1 || table.Tensors[0].Name != "w" {
		t.Fatalf("got %v, %v", table, err)
	}
	if r.read > 2*pageSize {
		t.Fatalf("read %d bytes of a %d-byte file", r.read, len(file))
	}
}

func TestONNXTruncated(t *testing.T) {
	file, _ := testONNX()
	graphTag := bytes.IndexByte(file, 0x3a)
	// The model ends with opset_import: without it, it is a whole model.
	opset := len(file) - len(pbBytes(nil, 8, pbUint(pbBytes(nil, 1, nil), 2, 17)))
	truncations(t, parseONNX, file, graphTag+2, opset)
}

// nestedModel is a model whose graph holds a node whose attribute "body"
// holds a graph, depth times, the innermost holding initializer w; each
// node also holds a Constant-like unnamed tensor attribute.
func nestedModel(depth int) []byte {
	w := onnxInit{name: "w", dataType: 1, dims: []int64{1}, data: []byte{1, 2, 3, 4}}
	g := pbBytes(nil, 5, w.encode())
	for level := range depth {
		unnamed := onnxInit{dataType: 2, dims: []int64{1}, data: []byte{byte(level)}}
		attrs := pbBytes(nil, 5, pbBytes(pbBytes(nil, 1, []byte("body")), 6, g))
		attrs = pbBytes(attrs, 5, pbBytes(pbBytes(nil, 1, []byte("value")), 5, unnamed.encode()))
		node := pbBytes(pbBytes(nil, 2, []byte("out")), 3, []byte{'n', byte('0' + level)})
		g = pbBytes(nil, 1, append(node, attrs...))
	}
	var m []byte
	m = pbUint(m, 1, 8)
	return pbBytes(m, 7, g)
}

func TestONNXNestedGraphs(t *testing.T) {
	file := nestedModel(2)
	names := tensorNames(t, parseONNX, file)
	// Levels are built inside out: n1 is the outer node.
	want := []string{"n1/body/n0/body/w", "n1/body/n0/value", "n1/value"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	refuseAll(t, parseONNX, []hostile{{name: "graphs nested too deep", file: nestedModel(maxGraphDepth)}})
	if _, err := parseONNX(bytes.NewReader(nestedModel(maxGraphDepth-1)), int64(len(nestedModel(maxGraphDepth-1))), Limits{}); err != nil {
		t.Fatalf("graphs nested %d deep: %v", maxGraphDepth-1, err)
	}
}

// A node of more than maxAttributes attributes, and an attribute of more
// than maxAttributes tensors, are refused: the walk keeps them while it
// reads the node.
func TestONNXTooManyAttributes(t *testing.T) {
	// Not parallel: parseBounded measures the process's allocations.
	model := func(n int, manyTensors bool) []byte {
		w := onnxInit{dataType: 1, dims: []int64{1}, data: []byte{1, 2, 3, 4}}
		var node []byte
		node = pbBytes(node, 3, []byte("n"))
		if manyTensors {
			attr := pbBytes(nil, 1, []byte("a"))
			for range n {
				attr = pbBytes(attr, 10, w.encode())
			}
			node = pbBytes(node, 5, attr)
		} else {
			for range n {
				node = pbBytes(node, 5, pbBytes(nil, 1, []byte("a")))
			}
		}
		return pbBytes(pbUint(nil, 1, 8), 7, pbBytes(nil, 1, node))
	}
	refuseAll(t, parseONNX, []hostile{
		{name: "attributes", file: model(maxAttributes+1, false)},
		{name: "tensors of an attribute", file: model(maxAttributes+1, true)},
	})
	for _, many := range []bool{false, true} {
		f := model(maxAttributes, many)
		if _, err := parseONNX(bytes.NewReader(f), int64(len(f)), Limits{}); err != nil {
			t.Errorf("%d (tensors: %v): %v", maxAttributes, many, err)
		}
	}
}
