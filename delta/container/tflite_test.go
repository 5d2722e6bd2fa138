package container

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
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
