package container

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"runtime"
	"testing"
)

// fbBuilder writes a FlatBuffer front to back: every object is appended,
// and offsets to objects written later are patched in when they are.
type fbBuilder struct {
	buf []byte
}

func (b *fbBuilder) u32(v uint32) int {
	pos := len(b.buf)
	b.buf = binary.LittleEndian.AppendUint32(b.buf, v)
	return pos
}

// point patches the uoffset slot at slot to point at target.
func (b *fbBuilder) point(slot, target int) {
	binary.LittleEndian.PutUint32(b.buf[slot:], uint32(target-slot))
}

// table writes a table with the given fields (nil: absent), its vtable
// just before it, and returns the position of each field.
func (b *fbBuilder) table(fields ...[]byte) (pos int, at []int) {
	vt := len(b.buf)
	b.buf = binary.LittleEndian.AppendUint16(b.buf, uint16(4+2*len(fields)))
	size := 4
	for _, f := range fields {
		size += len(f)
	}
	b.buf = binary.LittleEndian.AppendUint16(b.buf, uint16(size))
	o := 4
	for _, f := range fields {
		if f == nil {
			b.buf = binary.LittleEndian.AppendUint16(b.buf, 0)
			continue
		}
		b.buf = binary.LittleEndian.AppendUint16(b.buf, uint16(o))
		o += len(f)
	}
	pos = len(b.buf)
	b.u32(uint32(int32(pos - vt)))
	at = make([]int, len(fields))
	for i, f := range fields {
		at[i] = len(b.buf)
		b.buf = append(b.buf, f...)
	}
	return pos, at
}

// vector writes a vector of n elements of the given bytes and returns
// the position of its length.
func (b *fbBuilder) vector(n int, elems []byte) int {
	pos := b.u32(uint32(n))
	b.buf = append(b.buf, elems...)
	return pos
}

// offsets writes a vector of n uoffsets to patch, returning its slots.
func (b *fbBuilder) offsets(n int) (pos int, slots []int) {
	pos = b.u32(uint32(n))
	for range n {
		slots = append(slots, b.u32(0))
	}
	return pos, slots
}

var zero4 = []byte{0, 0, 0, 0}

type tfTensor struct {
	name   string
	dtype  byte
	shape  []int32
	buffer uint32
}

// tfBuffer is a buffer: inline data, or an offset and size (ext).
type tfBuffer struct {
	data      []byte
	ext       bool
	off, size uint64
}

type tfModel struct {
	subgraphs [][]tfTensor
	buffers   []tfBuffer
	// order is the order in which buffer data is laid out (nil: index order).
	order []int
}

func u32le(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64le(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// build writes m and returns the file and where each buffer's data is.
func (m tfModel) build() ([]byte, []int) {
	var b fbBuilder
	root := b.u32(0)
	b.buf = append(b.buf, "TFL3"...)
	model, at := b.table(u32le(3), nil, zero4, nil, zero4)
	b.point(root, model)
	sgVec, sgSlots := b.offsets(len(m.subgraphs))
	b.point(at[2], sgVec)
	for s, tensors := range m.subgraphs {
		sg, sgAt := b.table(zero4)
		b.point(sgSlots[s], sg)
		tVec, tSlots := b.offsets(len(tensors))
		b.point(sgAt[0], tVec)
		for k, t := range tensors {
			tp, tAt := b.table(zero4, []byte{t.dtype}, u32le(t.buffer), zero4)
			b.point(tSlots[k], tp)
			var dims []byte
			for _, d := range t.shape {
				dims = append(dims, u32le(uint32(d))...)
			}
			b.point(tAt[0], b.vector(len(t.shape), dims))
			b.point(tAt[3], b.vector(len(t.name), append([]byte(t.name), 0)))
		}
	}
	bVec, bSlots := b.offsets(len(m.buffers))
	b.point(at[4], bVec)
	dataSlots := make([]int, len(m.buffers))
	for i, buf := range m.buffers {
		var bp int
		var bAt []int
		if buf.ext {
			bp, bAt = b.table(nil, u64le(buf.off), u64le(buf.size))
		} else {
			bp, bAt = b.table(zero4)
			dataSlots[i] = bAt[0]
		}
		b.point(bSlots[i], bp)
	}
	order := m.order
	if order == nil {
		for i := range m.buffers {
			order = append(order, i)
		}
	}
	where := make([]int, len(m.buffers))
	for _, i := range order {
		if m.buffers[i].ext {
			continue
		}
		for (len(b.buf)+4)%16 != 0 {
			b.buf = append(b.buf, 0)
		}
		v := b.vector(len(m.buffers[i].data), m.buffers[i].data)
		b.point(dataSlots[i], v)
		where[i] = v + 4
	}
	return b.buf, where
}

func testModel() tfModel {
	return tfModel{
		subgraphs: [][]tfTensor{{
			{name: "input", dtype: 0, shape: []int32{1, 4}, buffer: 0},
			{name: "dense/kernel", dtype: 0, shape: []int32{4, 3}, buffer: 1},
			{name: "dense/bias", dtype: 9, shape: []int32{3}, buffer: 2},
			{name: "dense/kernel/alias", dtype: 0, shape: []int32{4, 3}, buffer: 1},
			{name: "weird", dtype: 200, shape: []int32{-1, 2}, buffer: 3},
		}},
		buffers: []tfBuffer{
			{},
			{data: bytes.Repeat([]byte{1}, 48)},
			{data: []byte{2, 2, 2}},
			{data: bytes.Repeat([]byte{3}, 8)},
			{data: []byte("metadata")},
		},
		order: []int{3, 2, 4, 1, 0},
	}
}

func TestTFLiteRoundTrip(t *testing.T) {
	file, where := testModel().build()
	table, err := parseTFLite(bytes.NewReader(file), int64(len(file)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Tensor{
		{Name: "weird", DType: "TFLITE_TYPE_200", Shape: []int64{-1, 2}, Offset: int64(where[3]), Length: 8},
		{Name: "dense/bias", DType: "I8", Shape: []int64{3}, Offset: int64(where[2]), Length: 3},
		{Name: "buffer 4", DType: "U8", Shape: []int64{8}, Offset: int64(where[4]), Length: 8},
		{Name: "dense/kernel", DType: "F32", Shape: []int64{4, 3}, Offset: int64(where[1]), Length: 48},
	}
	if table.Format != TFLite || !reflect.DeepEqual(table.Tensors, want) {
		t.Fatalf("got %+v\nwant %+v", table.Tensors, want)
	}
}

func TestTFLiteSubgraphsAndExternalBuffers(t *testing.T) {
	m := tfModel{
		subgraphs: [][]tfTensor{
			{{name: "w", shape: []int32{2}, buffer: 1}},
			{{name: "w", shape: []int32{2}, buffer: 2}, {name: "same", shape: []int32{2}, buffer: 3}},
		},
		buffers: []tfBuffer{{}, {ext: true, off: 1, size: 0}, {}, {}},
	}
	file, _ := m.build()
	// Buffers 2 and 3 hold the same 8 bytes past the FlatBuffer, buffer 1
	// is empty (offset 1 means none).
	extAt := uint64(len(file))
	file = append(file, bytes.Repeat([]byte{7}, 8)...)
	m.buffers[2] = tfBuffer{ext: true, off: extAt, size: 8}
	m.buffers[3] = tfBuffer{ext: true, off: extAt, size: 8}
	file2, _ := m.build()
	if len(file2) != int(extAt) {
		t.Fatalf("layout changed: %d != %d", len(file2), extAt)
	}
	file = append(file2, file[extAt:]...)
	table, err := parseTFLite(bytes.NewReader(file), int64(len(file)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Tensor{{Name: "1:w", DType: "F32", Shape: []int64{2}, Offset: int64(extAt), Length: 8}}
	if !reflect.DeepEqual(table.Tensors, want) {
		t.Fatalf("got %+v, want %+v", table.Tensors, want)
	}
}

func TestTFLiteNotTFLite(t *testing.T) {
	for _, file := range [][]byte{nil, []byte("TFL3"), []byte("\x10\x00\x00\x00TFL2xxxxxxxx")} {
		if _, err := parseTFLite(bytes.NewReader(file), int64(len(file)), Limits{}); !errors.Is(err, ErrUnknown) {
			t.Errorf("%q: %v, want ErrUnknown", file, err)
		}
	}
}

// tfPositions locates a model's tables in its file, for tests that
// corrupt them.
type tfPositions struct {
	model, buffers, subgraph0, tensors0, tensor1 int
}

func locate(t *testing.T, file []byte) tfPositions {
	t.Helper()
	fb := flatBuffer{newSource(TFLite, bytes.NewReader(file), int64(len(file)), DefaultLimits, pageSize)}
	root, err := fb.deref(0)
	if err != nil {
		t.Fatal(err)
	}
	model, err := fb.table(root)
	if err != nil {
		t.Fatal(err)
	}
	buffers, _, err := fb.vector(model, 4, 4, 100)
	if err != nil {
		t.Fatal(err)
	}
	subgraphs, _, err := fb.vector(model, 2, 4, 100)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := fb.tableAt(subgraphs, 0)
	if err != nil {
		t.Fatal(err)
	}
	tensors, _, err := fb.vector(sg, 0, 4, 100)
	if err != nil {
		t.Fatal(err)
	}
	tensor, err := fb.tableAt(tensors, 1)
	if err != nil {
		t.Fatal(err)
	}
	return tfPositions{int(root), int(buffers) - 4, int(sg.pos), int(tensors) - 4, int(tensor.pos)}
}

// patched returns a copy of file with v written at off.
func patched(file []byte, off int, v []byte) []byte {
	out := append([]byte(nil), file...)
	copy(out[off:], v)
	return out
}

func TestTFLiteMalicious(t *testing.T) {
	file, _ := testModel().build()
	p := locate(t, file)
	i32 := func(v int32) []byte { return u32le(uint32(v)) }
	vtable := p.model - int(int32(binary.LittleEndian.Uint32(file[p.model:])))

	model := func(m tfModel) []byte { f, _ := m.build(); return f }
	oneTensor := [][]tfTensor{{{name: "w", buffer: 1}}}
	manyNames := tfModel{buffers: []tfBuffer{{}}}
	for i := range 200 {
		manyNames.subgraphs = [][]tfTensor{append(manyNames.subgraphs0(), tfTensor{name: string(bytes.Repeat([]byte{'n'}, 1000)), buffer: uint32(i + 1)})}
		manyNames.buffers = append(manyNames.buffers, tfBuffer{data: []byte{byte(i)}})
	}
	refuseAll(t, parseTFLite, []hostile{
		{name: "root past the end", file: patched(file, 0, u32le(0xffffff00))},
		{name: "root points at itself", file: patched(file, 0, u32le(0))},
		{name: "vtable past the end", file: patched(file, p.model, i32(-1<<30))},
		{name: "vtable before the start", file: patched(file, p.model, i32(int32(p.model+100)))},
		{name: "vtable is the table", file: patched(file, p.model, i32(0))},
		{name: "vtable size odd", file: patched(file, vtable, []byte{5, 0})},
		{name: "table size past the end", file: patched(file, vtable+2, []byte{0xff, 0xff})},
		{name: "field past its table", file: patched(file, vtable+4+2*4, []byte{0xf0, 0xff})},
		{name: "huge buffer count", file: patched(file, p.buffers, u32le(0xffffffff))},
		{name: "buffer count past the end", file: patched(file, p.buffers, u32le(uint32(len(file))))},
		{name: "buffer count past MaxTensors", file: file, lim: Limits{MaxTensors: 4}},
		{name: "tensor count past MaxTensors", file: model(tfModel{subgraphs: [][]tfTensor{make([]tfTensor, 3), make([]tfTensor, 3)}, buffers: []tfBuffer{{}}}), lim: Limits{MaxTensors: 5}},
		{name: "vector element points at itself", file: patched(file, p.tensors0+4, u32le(0))},
		{name: "tensor uses a missing buffer", file: model(tfModel{subgraphs: [][]tfTensor{{{name: "w", buffer: 99}}}, buffers: []tfBuffer{{}}})},
		{name: "name past the end", file: patched(file, p.tensor1+4+4+1+4, u32le(uint32(len(file))))},
		{name: "too many dimensions", file: model(tfModel{subgraphs: [][]tfTensor{{{name: "w", shape: make([]int32, maxDims+1), buffer: 1}}}, buffers: []tfBuffer{{}, {data: []byte{1}}}})},
		{name: "buffers overlap", file: model(tfModel{subgraphs: oneTensor, buffers: []tfBuffer{{}, {ext: true, off: 8, size: 16}, {ext: true, off: 16, size: 16}}})},
		{name: "buffer past the end", file: model(tfModel{subgraphs: oneTensor, buffers: []tfBuffer{{}, {ext: true, off: 1 << 40, size: 16}}})},
		{name: "buffer size past the end", file: model(tfModel{subgraphs: oneTensor, buffers: []tfBuffer{{}, {ext: true, off: 8, size: 1 << 63}}})},
		{name: "header past MaxHeader", file: model(manyNames), lim: Limits{MaxHeader: 64 << 10}},
		{name: "short reader", file: file[:len(file)-1], size: int64(len(file))},
	})
	if _, err := parseTFLite(bytes.NewReader(model(manyNames)), int64(len(model(manyNames))), Limits{}); err != nil {
		t.Fatalf("the many-names model itself: %v", err)
	}
}

func (m tfModel) subgraphs0() []tfTensor {
	if len(m.subgraphs) == 0 {
		return nil
	}
	return m.subgraphs[0]
}

func TestTFLiteBothDataAndOffset(t *testing.T) {
	// A buffer with inline data and an external range: build a buffer table
	// with all three fields by hand.
	var b fbBuilder
	root := b.u32(0)
	b.buf = append(b.buf, "TFL3"...)
	model, at := b.table(u32le(3), nil, nil, nil, zero4)
	b.point(root, model)
	vec, slots := b.offsets(2)
	b.point(at[4], vec)
	empty, _ := b.table()
	b.point(slots[0], empty)
	buf, bAt := b.table(zero4, u64le(8), u64le(4))
	b.point(slots[1], buf)
	b.point(bAt[0], b.vector(2, []byte{1, 2}))
	refuseAll(t, parseTFLite, []hostile{{name: "data and offset", file: b.buf}})
}

func TestTFLiteTruncated(t *testing.T) {
	file, _ := testModel().build()
	truncations(t, parseTFLite, file, 8)
}

func TestTFLiteRepeatedNames(t *testing.T) {
	m := tfModel{
		subgraphs: [][]tfTensor{{{name: "w", buffer: 1}, {name: "w", buffer: 2}, {buffer: 3}}},
		buffers:   []tfBuffer{{}, {data: []byte{1}}, {data: []byte{2}}, {data: []byte{3}}},
	}
	file, _ := m.build()
	names := tensorNames(t, parseTFLite, file)
	if want := []string{"w", "w (buffer 2)", "tensor 2"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
}

func TestTFLiteSharedTables(t *testing.T) {
	// 100,000 buffers and 100,000 tensors, all pointing at one table: a
	// small file that makes the parser walk many entries. It must keep
	// little per entry, and give one tensor.
	const n = 100000
	var b fbBuilder
	root := b.u32(0)
	b.buf = append(b.buf, "TFL3"...)
	model, at := b.table(nil, nil, zero4, nil, zero4)
	b.point(root, model)
	sgVec, sgSlots := b.offsets(1)
	b.point(at[2], sgVec)
	sg, sgAt := b.table(zero4)
	b.point(sgSlots[0], sg)
	tVec, tSlots := b.offsets(n)
	b.point(sgAt[0], tVec)
	tensor, tAt := b.table(nil, nil, u32le(7), zero4)
	b.point(tAt[3], b.vector(1, []byte{'w', 0}))
	for _, slot := range tSlots {
		b.point(slot, tensor)
	}
	bVec, bSlots := b.offsets(n)
	b.point(at[4], bVec)
	buf, bAt := b.table(zero4)
	b.point(bAt[0], b.vector(4, []byte{1, 2, 3, 4}))
	for _, slot := range bSlots {
		b.point(slot, buf)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	table, err := parseTFLite(bytes.NewReader(b.buf), int64(len(b.buf)), Limits{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d bytes allocated for %d entries", alloc, n)
	if alloc > 40*n+maxParseAlloc {
		t.Errorf("allocated %d bytes for %d entries", alloc, n)
	}
	if len(table.Tensors) != 1 || table.Tensors[0].Name != "w" || table.Tensors[0].Length != 4 {
		t.Fatalf("got %+v", table.Tensors)
	}
}
