// GGUF (ggml's model format, versions 2 and 3): the magic "GGUF", a
// version, the tensor and metadata counts, the metadata key-value pairs,
// the tensor infos (name, dimensions, ggml type, offset into the data
// section), then the data section, aligned to general.alignment.

package container

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// isGGUF reports whether head starts with GGUF's magic.
func isGGUF(head []byte) bool {
	return len(head) >= 4 && string(head[:4]) == "GGUF"
}

// GGUF metadata value types.
const (
	ggufUint8 = iota
	ggufInt8
	ggufUint16
	ggufInt16
	ggufUint32
	ggufInt32
	ggufFloat32
	ggufBool
	ggufString
	ggufArray
	ggufUint64
	ggufInt64
	ggufFloat64
)

// ggufScalarSizes are the sizes of the fixed-size metadata value types.
var ggufScalarSizes = map[uint32]int64{
	ggufUint8: 1, ggufInt8: 1, ggufUint16: 2, ggufInt16: 2, ggufUint32: 4, ggufInt32: 4,
	ggufFloat32: 4, ggufBool: 1, ggufUint64: 8, ggufInt64: 8, ggufFloat64: 8,
}

// ggmlType is a ggml tensor type: its name, and how many elements a block
// of typeSize bytes holds.
type ggmlType struct {
	name                string
	blockSize, typeSize int64
}

// ggmlTypes are the ggml types whose layout is known (ggml.h, ggml.c's
// type_traits). A tensor of another type gets its length from the next
// tensor's offset.
var ggmlTypes = map[uint32]ggmlType{
	0: {"F32", 1, 4}, 1: {"F16", 1, 2}, 2: {"Q4_0", 32, 18}, 3: {"Q4_1", 32, 20},
	6: {"Q5_0", 32, 22}, 7: {"Q5_1", 32, 24}, 8: {"Q8_0", 32, 34}, 9: {"Q8_1", 32, 36},
	10: {"Q2_K", 256, 84}, 11: {"Q3_K", 256, 110}, 12: {"Q4_K", 256, 144}, 13: {"Q5_K", 256, 176},
	14: {"Q6_K", 256, 210}, 15: {"Q8_K", 256, 292},
	24: {"I8", 1, 1}, 25: {"I16", 1, 2}, 26: {"I32", 1, 4}, 27: {"I64", 1, 8}, 28: {"F64", 1, 8},
	30: {"BF16", 1, 2},
}

const (
	ggufMaxDims      = 8
	ggufMaxNesting   = 8
	ggufMaxAlignment = 1 << 20
)

type ggufParser struct {
	h   hdrReader
	lim Limits
}

func parseGGUF(r io.ReaderAt, size int64, lim Limits) (*Table, error) {
	p := &ggufParser{h: hdrReader{r: r, limit: min(size, lim.MaxHeader)}, lim: lim}
	t, err := p.parse(size)
	if errors.Is(err, errTruncated) {
		return nil, formatErr(GGUF, "%v: at byte %d of a %d-byte file (header limit %d)", err, p.h.pos, size, lim.MaxHeader)
	}
	return t, err
}

func (p *ggufParser) parse(size int64) (*Table, error) {
	h := &p.h
	h.skip(4)
	version, nTensors, nKV := h.u32(), h.u64(), h.u64()
	if h.err != nil {
		return nil, h.err
	}
	if version != 2 && version != 3 {
		return nil, formatErr(GGUF, "version %d (2 and 3 are known)", version)
	}
	if nTensors > uint64(p.lim.MaxTensors) || nKV > uint64(p.lim.MaxTensors) {
		return nil, formatErr(GGUF, "%d tensors and %d metadata pairs: past the limit of %d", nTensors, nKV, p.lim.MaxTensors)
	}
	alignment := int64(32)
	for i := range nKV {
		key, typ := p.str(), h.u32()
		if h.err != nil {
			return nil, h.err
		}
		if string(key) == "general.alignment" {
			a, err := p.uint(typ)
			if err != nil {
				return nil, err
			}
			if a == 0 || a > ggufMaxAlignment || a&(a-1) != 0 {
				return nil, formatErr(GGUF, "general.alignment %d is not a power of two up to %d", a, ggufMaxAlignment)
			}
			alignment = int64(a)
			continue
		}
		if err := p.skipValue(typ, 0); err != nil {
			return nil, fmt.Errorf("%w (metadata pair %d)", err, i)
		}
	}
	t := &Table{Format: GGUF, Tensors: make([]Tensor, 0, min(nTensors, 1024))}
	for i := range nTensors {
		name, nDims := p.str(), h.u32()
		if h.err != nil {
			return nil, h.err
		}
		if nDims > ggufMaxDims {
			return nil, formatErr(GGUF, "tensor %d has %d dimensions", i, nDims)
		}
		shape := make([]int64, nDims)
		for d := range shape {
			shape[d] = int64(min(h.u64(), maxElements+1)) // elements refuses it
		}
		typ, off := h.u32(), h.u64()
		if h.err != nil {
			return nil, h.err
		}
		elems, ok := elements(shape)
		if !ok {
			return nil, formatErr(GGUF, "tensor %d: shape %v", i, shape)
		}
		if off > uint64(size) {
			return nil, formatErr(GGUF, "tensor %d starts past the file", i)
		}
		length, dtype := int64(-1), fmt.Sprintf("GGML_TYPE_%d", typ)
		if gt, known := ggmlTypes[typ]; known {
			if elems%gt.blockSize != 0 {
				return nil, formatErr(GGUF, "tensor %d: %d elements is not a whole number of %s blocks", i, elems, gt.name)
			}
			length, dtype = elems/gt.blockSize*gt.typeSize, gt.name
		}
		t.Tensors = append(t.Tensors, Tensor{Name: string(name), DType: dtype, Shape: shape, Offset: int64(off), Length: length})
	}
	dataStart := (h.pos + alignment - 1) / alignment * alignment
	if dataStart > size {
		return nil, formatErr(GGUF, "data section starts past the file")
	}
	for i := range t.Tensors {
		x := &t.Tensors[i]
		if x.Offset > size-dataStart {
			return nil, formatErr(GGUF, "tensor %d starts past the file", i)
		}
		x.Offset += dataStart
		if x.Length > size-x.Offset {
			return nil, formatErr(GGUF, "tensor %d ends past the file", i)
		}
	}
	boundUnknown(t, size)
	return newTable(GGUF, t.Tensors, size)
}

// boundUnknown gives each tensor of an unknown type (Length -1) the
// bytes up to the next tensor (by offset) or the end of the file.
func boundUnknown(t *Table, size int64) {
	slices.SortStableFunc(t.Tensors, func(a, b Tensor) int { return cmpInt64(a.Offset, b.Offset) })
	next := size // the offset of the next tensor that starts after t.Tensors[i]
	for i := len(t.Tensors) - 1; i >= 0; i-- {
		x := &t.Tensors[i]
		if i+1 < len(t.Tensors) && t.Tensors[i+1].Offset > x.Offset {
			next = t.Tensors[i+1].Offset
		}
		if x.Length < 0 {
			x.Length = next - x.Offset
		}
	}
}

// str reads a GGUF string (a uint64 length, then the bytes).
func (p *ggufParser) str() []byte {
	n := p.h.u64()
	if n > p.h.left() {
		p.h.fail()
		return nil
	}
	return p.h.bytes(int64(n))
}

// uint reads a metadata value of an unsigned or signed integer type.
func (p *ggufParser) uint(typ uint32) (uint64, error) {
	size, ok := ggufScalarSizes[typ]
	if !ok || typ == ggufFloat32 || typ == ggufFloat64 || typ == ggufBool {
		return 0, formatErr(GGUF, "general.alignment has value type %d, not an integer", typ)
	}
	b := p.h.bytes(size)
	if b == nil {
		return 0, p.h.err
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if b[len(b)-1]&0x80 != 0 && typ != ggufUint8 && typ != ggufUint16 && typ != ggufUint32 && typ != ggufUint64 {
		return 0, formatErr(GGUF, "negative general.alignment")
	}
	return v, nil
}

// skipValue skips a metadata value of type typ, depth arrays deep.
// Every element of a string or array consumes at least 8 bytes of
// header, so the header limit bounds the time spent here.
func (p *ggufParser) skipValue(typ uint32, depth int) error {
	h := &p.h
	if size, ok := ggufScalarSizes[typ]; ok {
		h.skip(size)
		return h.err
	}
	switch typ {
	case ggufString:
		if n := h.u64(); n <= h.left() {
			h.skip(int64(n))
		} else {
			h.fail()
		}
		return h.err
	case ggufArray:
		if depth >= ggufMaxNesting {
			return formatErr(GGUF, "arrays nested more than %d deep", ggufMaxNesting)
		}
		et, n := h.u32(), h.u64()
		if size, ok := ggufScalarSizes[et]; ok {
			if n <= h.left()/uint64(size) {
				h.skip(int64(n) * size)
			} else {
				h.fail()
			}
			return h.err
		}
		if n > h.left()/8 {
			h.fail()
		}
		for i := uint64(0); i < n && h.err == nil; i++ {
			if err := p.skipValue(et, depth+1); err != nil {
				return err
			}
		}
		return h.err
	}
	return formatErr(GGUF, "metadata value type %d", typ)
}
