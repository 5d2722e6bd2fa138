// ONNX models: a protocol buffer ModelProto (onnx/onnx.proto).
//
// The parts read here, by field number:
//
//	ModelProto:  ir_version 1 (varint, first), graph 7 (GraphProto)
//	GraphProto:  initializer 5 (TensorProto, repeated)
//	TensorProto: dims 1 (int64, packed or not), data_type 2, name 8,
//	             raw_data 9, float_data 4, int32_data 5, int64_data 7,
//	             double_data 10, uint64_data 11 (packed), string_data 6,
//	             external_data 13, data_location 14
//
// Everything else, nested graphs of control-flow nodes included, is
// skipped by its length without being read.

package container

import (
	"fmt"
	"io"
)

// Protocol buffer wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// protoField is one field of a protocol buffer message: its number and
// wire type, its value (varints) or the byte range of its payload, and
// where the next field starts.
type protoField struct {
	num       uint64
	wire      uint64
	value     uint64
	off, n    int64
	nextField int64
}

// varint decodes the varint at off, which must end before end, and
// returns it and the offset after it.
func (s *source) varint(off, end int64) (uint64, int64, error) {
	window := min(10, end-off)
	b, err := s.bytes(off, window)
	if err != nil {
		return 0, 0, err
	}
	var v uint64
	for i, c := range b {
		if i == 9 && c > 1 {
			break
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			s.budget += window - int64(i+1) // refund the bytes not consumed
			return v, off + int64(i) + 1, nil
		}
	}
	return 0, 0, formatError(s.format, "bad varint at %d", off)
}

// field reads the field starting at off in a message ending at end.
func (s *source) field(off, end int64) (protoField, error) {
	tag, pos, err := s.varint(off, end)
	if err != nil {
		return protoField{}, err
	}
	f := protoField{num: tag >> 3, wire: tag & 7, off: pos}
	if f.num == 0 || f.num >= 1<<29 {
		return protoField{}, formatError(s.format, "bad field number %d at %d", f.num, off)
	}
	switch f.wire {
	case wireVarint:
		f.value, f.nextField, err = s.varint(pos, end)
		f.n = f.nextField - pos
		return f, err
	case wireFixed64:
		f.n = 8
	case wireFixed32:
		f.n = 4
	case wireBytes:
		var n uint64
		if n, f.off, err = s.varint(pos, end); err != nil {
			return protoField{}, err
		}
		if n > uint64(end-f.off) {
			return protoField{}, formatError(s.format, "field %d at %d: %d bytes past the end of its message", f.num, off, n)
		}
		f.n = int64(n)
	default:
		return protoField{}, formatError(s.format, "field %d at %d has wire type %d", f.num, off, f.wire)
	}
	if f.n > end-f.off {
		return protoField{}, formatError(s.format, "field %d at %d runs past the end of its message", f.num, off)
	}
	f.nextField = f.off + f.n
	return f, nil
}

// modelWire gives the wire type of the ModelProto fields that may come
// before the graph (field 7) in a file: ir_version, producer_name,
// producer_version, domain, model_version, doc_string.
var modelWire = map[uint64]uint64{1: wireVarint, 2: wireBytes, 3: wireBytes, 4: wireBytes, 5: wireVarint, 6: wireBytes, 7: wireBytes}

// isONNX reports whether head (the file's first bytes) looks like the
// start of an ONNX ModelProto. ONNX has no magic number: head must start
// with ir_version (field 1, 1 to 20), then hold only the fields that
// precede the graph in a serialized model, then the graph's tag. A model
// with a doc string longer than head is not recognized: it is then
// diffed as plain bytes.
func isONNX(head []byte) bool {
	s := newSource(ONNX, bytesReaderAt(head), int64(len(head)), DefaultLimits)
	end := int64(len(head))
	for off, first := int64(0), true; off < end; first = false {
		f, err := s.field(off, end)
		if err != nil {
			// The graph's length may run past head; nothing else may.
			tag, pos, err := s.varint(off, end)
			return err == nil && tag == 7<<3|wireBytes && !first && pos < end
		}
		if modelWire[f.num] != f.wire || first != (f.num == 1) || first && (f.value < 1 || f.value > 20) {
			return false
		}
		if f.num == 7 {
			return true
		}
		off = f.nextField
	}
	return false
}

// bytesReaderAt reads a byte slice.
type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// onnxTypes names ONNX's TensorProto.DataType values.
var onnxTypes = map[uint64]string{
	1: "F32", 2: "U8", 3: "I8", 4: "UINT16", 5: "I16", 6: "I32", 7: "I64",
	8: "STRING", 9: "BOOL", 10: "F16", 11: "F64", 12: "UINT32", 13: "UINT64",
	16: "BF16",
}

func onnxType(t uint64) string {
	if name, ok := onnxTypes[t]; ok {
		return name
	}
	return fmt.Sprintf("ONNX_TYPE_%d", t)
}

// parseONNX reads the tensor table of an ONNX model: the initializers of
// its main graph whose data is in the file (raw_data, or a packed typed
// field), in file order. Initializers stored outside the file
// (external_data) or as strings are left out.
func parseONNX(r io.ReaderAt, size int64, lim Limits) (*Table, error) {
	lim = withDefaults(lim)
	s := newSource(ONNX, r, size, lim)
	head, err := s.bytes(0, min(size, pageSize))
	if err != nil {
		return nil, err
	}
	if !isONNX(head) {
		return nil, ErrUnknown
	}
	graph, walked := protoField{}, 0
	for off := int64(0); off < size; {
		f, err := s.field(off, size)
		if err != nil {
			return nil, err
		}
		if walked++; walked > lim.MaxTensors {
			return nil, formatError(ONNX, "more than %d fields in the model", lim.MaxTensors)
		}
		if f.num == 7 {
			if f.wire != wireBytes || graph.num != 0 {
				return nil, formatError(ONNX, "bad or repeated graph field at %d", off)
			}
			graph = f
		}
		off = f.nextField
	}
	if graph.num == 0 {
		return nil, formatError(ONNX, "no graph")
	}
	var tensors []Tensor
	walked = 0
	for off, end := graph.off, graph.off+graph.n; off < end; {
		f, err := s.field(off, end)
		if err != nil {
			return nil, err
		}
		if walked++; walked > lim.MaxTensors {
			return nil, formatError(ONNX, "more than %d fields in the graph", lim.MaxTensors)
		}
		if f.num == 5 {
			if f.wire != wireBytes {
				return nil, formatError(ONNX, "initializer at %d has wire type %d", off, f.wire)
			}
			t, ok, err := readONNXTensor(s, f.off, f.off+f.n)
			if err != nil {
				return nil, err
			}
			if ok {
				if t.Name == "" {
					t.Name = fmt.Sprintf("initializer at %d", off)
				}
				tensors = append(tensors, t)
			}
		}
		off = f.nextField
	}
	return finishTable(ONNX, tensors, size)
}

// onnxDataTypes gives the element type of the bytes of TensorProto's
// packed data fields: float_data, double_data, and the varint fields.
var onnxDataTypes = map[uint64]string{4: "F32", 5: "VARINT", 7: "VARINT", 10: "F64", 11: "VARINT", 9: ""}

// readONNXTensor reads the TensorProto in [off, end). ok is false when
// its data is not one range of the file (external, strings, unpacked
// values) or is empty.
func readONNXTensor(s *source, off, end int64) (t Tensor, ok bool, err error) {
	var dataType uint64
	var data protoField
	scattered := false
	for off < end {
		f, err := s.field(off, end)
		if err != nil {
			return Tensor{}, false, err
		}
		off = f.nextField
		_, isData := onnxDataTypes[f.num]
		switch {
		case f.num == 1 && f.wire == wireVarint:
			t.Shape = append(t.Shape, int64(f.value))
		case f.num == 1 && f.wire == wireBytes:
			for p := f.off; p < f.off+f.n; {
				var d uint64
				if d, p, err = s.varint(p, f.off+f.n); err != nil {
					return Tensor{}, false, err
				}
				t.Shape = append(t.Shape, int64(d))
				if len(t.Shape) > maxDims {
					break
				}
			}
		case f.num == 2 && f.wire == wireVarint:
			dataType = f.value
		case f.num == 8 && f.wire == wireBytes:
			name, err := s.bytes(f.off, f.n)
			if err != nil {
				return Tensor{}, false, err
			}
			t.Name = string(name)
		case isData && f.wire == wireBytes:
			if data.num != 0 {
				return Tensor{}, false, formatError(ONNX, "tensor with two data fields at %d", f.off)
			}
			data = f
		case isData, f.num == 6, f.num == 13, f.num == 14 && f.value == 1:
			scattered = true
		}
		if len(t.Shape) > maxDims {
			return Tensor{}, false, formatError(ONNX, "tensor with more than %d dimensions at %d", maxDims, f.off)
		}
	}
	if scattered || data.n == 0 {
		return Tensor{}, false, nil
	}
	t.DType = onnxDataTypes[data.num]
	if t.DType == "" {
		t.DType = onnxType(dataType)
	}
	t.Offset, t.Length = data.off, data.n
	return t, true, nil
}
