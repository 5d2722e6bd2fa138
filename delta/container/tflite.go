// TensorFlow Lite models: a FlatBuffer (schema tensorflow/lite/schema).
//
// The parts read here, by field index:
//
//	Model:    subgraphs 2 ([SubGraph]), buffers 4 ([Buffer])
//	SubGraph: tensors 0 ([Tensor])
//	Tensor:   shape 0 ([int32]), type 1 (byte), buffer 2 (uint32), name 3 (string)
//	Buffer:   data 0 ([ubyte]), offset 1 (uint64), size 2 (uint64)
//
// A buffer holds its bytes in data, or, in models larger than 2 GiB, at
// offset (from the start of the file, past the FlatBuffer) for size bytes;
// offsets 0 and 1 mean none.

package container

import (
	"fmt"
	"io"
	"math"
	"sort"
)

// isTFLite reports whether head (the file's first bytes) starts a TFLite
// FlatBuffer: the file identifier "TFL3" at offset 4.
func isTFLite(head []byte) bool {
	return len(head) >= 8 && string(head[4:8]) == "TFL3"
}

// tfliteTypes names TFLite's TensorType values.
var tfliteTypes = [...]string{
	0: "F32", 1: "F16", 2: "I32", 3: "U8", 4: "I64", 5: "STRING", 6: "BOOL",
	7: "I16", 8: "COMPLEX64", 9: "I8", 10: "F64",
}

func tfliteType(t uint8) string {
	if int(t) < len(tfliteTypes) {
		return tfliteTypes[t]
	}
	return fmt.Sprintf("TFLITE_TYPE_%d", t)
}

// flatBuffer walks the tables of a FlatBuffer, checking every offset
// against the file before following it.
type flatBuffer struct {
	*source
}

// fbTable is a table: its position, and its vtable's position and sizes.
type fbTable struct {
	pos, vtable      int64
	vtSize, tblBytes int64
}

// table reads the table at pos.
func (fb flatBuffer) table(pos int64) (fbTable, error) {
	soff, err := fb.u32(pos)
	if err != nil {
		return fbTable{}, err
	}
	t := fbTable{pos: pos, vtable: pos - int64(int32(soff))}
	vtSize, err := fb.u16(t.vtable)
	if err != nil {
		return fbTable{}, err
	}
	tblBytes, err := fb.u16(t.vtable + 2)
	if err != nil {
		return fbTable{}, err
	}
	t.vtSize, t.tblBytes = int64(vtSize), int64(tblBytes)
	if t.vtSize < 4 || t.vtSize%2 != 0 || t.vtable+t.vtSize > fb.size || t.tblBytes < 4 || pos+t.tblBytes > fb.size {
		return fbTable{}, formatErr(fb.format, "bad vtable at %d for the table at %d", t.vtable, pos)
	}
	return t, nil
}

// field returns the position of field i of t, which is width bytes wide,
// or -1 when the field is absent (it then has its default value).
func (fb flatBuffer) field(t fbTable, i int, width int64) (int64, error) {
	slot := 4 + 2*int64(i)
	if slot+2 > t.vtSize {
		return -1, nil
	}
	o, err := fb.u16(t.vtable + slot)
	if err != nil || o == 0 {
		return -1, err
	}
	if int64(o) < 4 || int64(o)+width > t.tblBytes {
		return -1, formatErr(fb.format, "field %d of the table at %d lies outside it", i, t.pos)
	}
	return t.pos + int64(o), nil
}

// deref follows the uoffset at pos.
func (fb flatBuffer) deref(pos int64) (int64, error) {
	u, err := fb.u32(pos)
	if err != nil {
		return 0, err
	}
	if u == 0 || pos+int64(u) >= fb.size {
		return 0, formatErr(fb.format, "offset %d at %d points at itself or past the end of the file", u, pos)
	}
	return pos + int64(u), nil
}

// vector follows the vector offset in field i of t: the position of its
// first element and its length, at most maxLen elements of elem bytes.
// An absent field is an empty vector.
func (fb flatBuffer) vector(t fbTable, i int, elem int64, maxLen int) (int64, int64, error) {
	at, err := fb.field(t, i, 4)
	if at < 0 || err != nil {
		return 0, 0, err
	}
	v, err := fb.deref(at)
	if err != nil {
		return 0, 0, err
	}
	n, err := fb.u32(v)
	if err != nil {
		return 0, 0, err
	}
	if int64(n) > int64(maxLen) || int64(n)*elem > fb.size-(v+4) {
		return 0, 0, formatErr(fb.format, "vector of %d elements at %d is too long", n, v)
	}
	return v + 4, int64(n), nil
}

// tableAt reads the table that element k of a vector of tables points to.
func (fb flatBuffer) tableAt(elems, k int64) (fbTable, error) {
	pos, err := fb.deref(elems + 4*k)
	if err != nil {
		return fbTable{}, err
	}
	return fb.table(pos)
}

// tfliteBuffer is a buffer's byte range, and the tensor that names it.
// Kept small: a hostile model may hold MaxTensors buffers.
type tfliteBuffer struct {
	off, length int64
	same        int32 // index of the first buffer with the same range
	tensor      int32 // index of the tensor that names it, or -1
}

// parseTFLite reads the tensor table of a TFLite model: one entry per
// non-empty buffer, named after the first tensor that uses it (its name
// prefixed with "<subgraph index>:" when the model has several
// subgraphs; "buffer <index>" when no tensor uses it).
func parseTFLite(r io.ReaderAt, size int64, lim Limits) (*Table, error) {
	lim = lim.orDefault()
	fb := flatBuffer{newSource(TFLite, r, size, lim, tfliteFill)}
	if size < 8 {
		return nil, ErrUnknown
	}
	head, err := fb.bytes(0, 8)
	if err != nil {
		return nil, err
	}
	if !isTFLite(head) {
		return nil, ErrUnknown
	}
	root, err := fb.deref(0)
	if err != nil {
		return nil, err
	}
	model, err := fb.table(root)
	if err != nil {
		return nil, err
	}
	buffers, err := readTFLiteBuffers(fb, model, lim)
	if err != nil {
		return nil, err
	}
	subgraphs, nSubgraphs, err := fb.vector(model, 2, 4, lim.MaxTensors)
	if err != nil {
		return nil, err
	}
	var named []Tensor
	walked := 0
	for s := int64(0); s < nSubgraphs; s++ {
		subgraph, err := fb.tableAt(subgraphs, s)
		if err != nil {
			return nil, err
		}
		tensors, nTensors, err := fb.vector(subgraph, 0, 4, lim.MaxTensors-walked)
		if err != nil {
			return nil, err
		}
		walked += int(nTensors)
		prefix := ""
		if nSubgraphs > 1 {
			prefix = fmt.Sprintf("%d:", s)
		}
		for k := int64(0); k < nTensors; k++ {
			if named, err = nameTFLiteBuffer(fb, buffers, named, tensors, k, prefix); err != nil {
				return nil, err
			}
		}
	}
	var out []Tensor
	names := make(map[string]bool)
	for i, b := range buffers {
		if b.length == 0 || b.same != int32(i) {
			continue
		}
		var t Tensor
		if b.tensor >= 0 {
			t = named[b.tensor]
		} else {
			t = Tensor{Name: fmt.Sprintf("buffer %d", i), DType: "U8", Shape: []int64{b.length}}
		}
		if names[t.Name] {
			// Names are unique within a subgraph in every converter's
			// output; keep a model that repeats one usable anyway.
			t.Name = fmt.Sprintf("%s (buffer %d)", t.Name, i)
		}
		names[t.Name] = true
		t.Offset, t.Length = b.off, b.length
		out = append(out, t)
	}
	return newTable(TFLite, out, size)
}

// readTFLiteBuffers reads the byte range of every buffer of the model,
// and marks the buffers that repeat an earlier one's range.
func readTFLiteBuffers(fb flatBuffer, model fbTable, lim Limits) ([]tfliteBuffer, error) {
	elems, n, err := fb.vector(model, 4, 4, min(lim.MaxTensors, math.MaxInt32))
	if err != nil {
		return nil, err
	}
	buffers := make([]tfliteBuffer, n)
	for i := range buffers {
		t, err := fb.tableAt(elems, int64(i))
		if err != nil {
			return nil, err
		}
		b := &buffers[i]
		b.same, b.tensor = int32(i), -1
		b.off, b.length, err = fb.vector(t, 0, 1, int(min(fb.size, 1<<31)))
		if err != nil {
			return nil, err
		}
		offAt, err := fb.field(t, 1, 8)
		if err != nil {
			return nil, err
		}
		sizeAt, err := fb.field(t, 2, 8)
		if err != nil {
			return nil, err
		}
		var off, length uint64
		if offAt >= 0 {
			if off, err = fb.u64(offAt); err != nil {
				return nil, err
			}
		}
		if sizeAt >= 0 {
			if length, err = fb.u64(sizeAt); err != nil {
				return nil, err
			}
		}
		if off <= 1 || length == 0 {
			continue
		}
		if b.length > 0 {
			return nil, formatErr(TFLite, "buffer %d has both inline data and an offset", i)
		}
		if off > uint64(fb.size) || length > uint64(fb.size)-off {
			return nil, formatErr(TFLite, "buffer %d (%d bytes at %d) is past the end of the file", i, length, off)
		}
		b.off, b.length = int64(off), int64(length)
	}
	order := make([]int, len(buffers))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool {
		a, b := buffers[order[x]], buffers[order[y]]
		return a.off < b.off || a.off == b.off && a.length < b.length
	})
	for k := 1; k < len(order); k++ {
		a, b := &buffers[order[k-1]], &buffers[order[k]]
		if a.length > 0 && a.off == b.off && a.length == b.length {
			b.same = a.same
		}
	}
	return buffers, nil
}

// nameTFLiteBuffer reads tensor k of a subgraph's tensor vector and, when
// its buffer is not empty and not yet named, names the buffer after it.
func nameTFLiteBuffer(fb flatBuffer, buffers []tfliteBuffer, named []Tensor, tensors, k int64, prefix string) ([]Tensor, error) {
	t, err := fb.tableAt(tensors, k)
	if err != nil {
		return named, err
	}
	var index uint32
	at, err := fb.field(t, 2, 4)
	if err != nil {
		return named, err
	}
	if at >= 0 {
		if index, err = fb.u32(at); err != nil {
			return named, err
		}
	}
	if int64(index) >= int64(len(buffers)) {
		return named, formatErr(TFLite, "tensor %d uses buffer %d of %d", k, index, len(buffers))
	}
	b := &buffers[buffers[index].same]
	if b.length == 0 || b.tensor >= 0 {
		return named, nil
	}
	var dtype uint8
	if at, err = fb.field(t, 1, 1); err != nil {
		return named, err
	}
	if at >= 0 {
		if dtype, err = fb.u8(at); err != nil {
			return named, err
		}
	}
	dims, rank, err := fb.vector(t, 0, 4, maxDims)
	if err != nil {
		return named, err
	}
	shape := make([]int64, rank)
	for d := range shape {
		v, err := fb.u32(dims + 4*int64(d))
		if err != nil {
			return named, err
		}
		shape[d] = int64(int32(v))
	}
	name := ""
	if at, err = fb.field(t, 3, 4); err != nil {
		return named, err
	}
	if at >= 0 {
		s, err := fb.deref(at)
		if err != nil {
			return named, err
		}
		n, err := fb.u32(s)
		if err != nil {
			return named, err
		}
		raw, err := fb.bytes(s+4, int64(n))
		if err != nil {
			return named, err
		}
		name = string(raw)
	}
	if name == "" {
		name = fmt.Sprintf("tensor %d", k)
	}
	b.tensor = int32(len(named))
	return append(named, Tensor{Name: prefix + name, DType: tfliteType(dtype), Shape: shape}), nil
}
