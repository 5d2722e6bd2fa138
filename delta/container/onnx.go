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
	"bytes"
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
	return 0, 0, formatErr(s.format, "bad varint at %d", off)
}

// field reads the field starting at off in a message ending at end.
func (s *source) field(off, end int64) (protoField, error) {
	tag, pos, err := s.varint(off, end)
	if err != nil {
		return protoField{}, err
	}
	f := protoField{num: tag >> 3, wire: tag & 7, off: pos}
	if f.num == 0 || f.num >= 1<<29 {
		return protoField{}, formatErr(s.format, "bad field number %d at %d", f.num, off)
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
			return protoField{}, formatErr(s.format, "field %d at %d: %d bytes past the end of its message", f.num, off, n)
		}
		f.n = int64(n)
	default:
		return protoField{}, formatErr(s.format, "field %d at %d has wire type %d", f.num, off, f.wire)
	}
	if f.n > end-f.off {
		return protoField{}, formatErr(s.format, "field %d at %d runs past the end of its message", f.num, off)
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
	s := newSource(ONNX, bytes.NewReader(head), int64(len(head)), DefaultLimits, pageSize)
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

// maxGraphDepth bounds the nesting of graphs (the bodies of If, Loop and
// Scan nodes, held in node attributes): real models nest two or three.
const maxGraphDepth = 16

// onnxWalker walks a model's graphs, counting the fields it visits.
type onnxWalker struct {
	s       *source
	lim     Limits
	walked  int
	tensors []Tensor
}

// each calls fn on every field of the message in [off, end).
func (w *onnxWalker) each(off, end int64, fn func(protoField) error) error {
	for off < end {
		f, err := w.s.field(off, end)
		if err != nil {
			return err
		}
		if w.walked++; w.walked > w.lim.MaxTensors {
			return formatErr(ONNX, "more than %d fields in the model's graphs", w.lim.MaxTensors)
		}
		if err := fn(f); err != nil {
			return err
		}
		off = f.nextField
	}
	return nil
}

// message checks that f holds a message (or string).
func message(f protoField, what string) error {
	if f.wire != wireBytes {
		return formatErr(ONNX, "%s at %d has wire type %d", what, f.off, f.wire)
	}
	return nil
}

// parseONNX reads the tensor table of an ONNX model: the initializers of
// its graph and the tensors of its nodes' attributes (Constant nodes,
// and the initializers of the graphs nested in If, Loop and Scan nodes)
// whose data is in the file (raw_data, or a packed typed field).
// Tensors stored outside the file (external_data) or as strings are left
// out. A nested graph's tensors are named after the path of nodes and
// attributes that leads to them ("node/attribute/name"); an attribute's
// unnamed tensor is named after its node and attribute.
func parseONNX(r io.ReaderAt, size int64, lim Limits) (*Table, error) {
	lim = lim.orDefault()
	w := &onnxWalker{s: newSource(ONNX, r, size, lim, onnxFill), lim: lim}
	head, err := w.s.bytes(0, min(size, pageSize))
	if err != nil {
		return nil, err
	}
	if !isONNX(head) {
		return nil, ErrUnknown
	}
	var graph protoField
	err = w.each(0, size, func(f protoField) error {
		if f.num != 7 {
			return nil
		}
		if graph.num != 0 {
			return formatErr(ONNX, "two graphs, at %d and %d", graph.off, f.off)
		}
		graph = f
		return message(f, "graph")
	})
	if err != nil {
		return nil, err
	}
	if graph.num == 0 {
		return nil, formatErr(ONNX, "no graph")
	}
	if err := w.graph(graph, "", 0); err != nil {
		return nil, err
	}
	return newTable(ONNX, w.tensors, size)
}

// graph walks a GraphProto: its initializers (field 5) and nodes (1).
func (w *onnxWalker) graph(g protoField, prefix string, depth int) error {
	if depth >= maxGraphDepth {
		return formatErr(ONNX, "graphs nested more than %d deep", maxGraphDepth)
	}
	return w.each(g.off, g.off+g.n, func(f protoField) error {
		switch f.num {
		case 5:
			if err := message(f, "initializer"); err != nil {
				return err
			}
			return w.tensor(f, prefix, fmt.Sprintf("initializer at %d", f.off))
		case 1:
			if err := message(f, "node"); err != nil {
				return err
			}
			return w.node(f, prefix, depth)
		}
		return nil
	})
}

// node walks a NodeProto's attributes (field 5): AttributeProto's tensor
// t (5), tensors (10), graph g (6) and graphs (11). The node is named by
// its name (3), or else its first output (2).
func (w *onnxWalker) node(n protoField, prefix string, depth int) error {
	var name, output string
	var attrs []protoField
	err := w.each(n.off, n.off+n.n, func(f protoField) error {
		var err error
		switch {
		case f.num == 3 && name == "":
			name, err = w.str(f, "node name")
		case f.num == 2 && output == "":
			output, err = w.str(f, "node output")
		case f.num == 5:
			attrs, err = keep(attrs, f, "attribute", n.off)
		}
		return err
	})
	if err != nil {
		return err
	}
	if name == "" {
		name = output
	}
	for _, a := range attrs {
		var attrName string
		var values []protoField
		err := w.each(a.off, a.off+a.n, func(f protoField) error {
			var err error
			switch f.num {
			case 1:
				attrName, err = w.str(f, "attribute name")
			case 5, 10, 6, 11:
				values, err = keep(values, f, "attribute value", a.off)
			}
			return err
		})
		if err != nil {
			return err
		}
		path := prefix + name + "/" + attrName
		for k, v := range values {
			unnamed := path
			if len(values) > 1 {
				unnamed = fmt.Sprintf("%s/%d", path, k)
			}
			if v.num == 5 || v.num == 10 {
				err = w.tensor(v, path+"/", unnamed)
			} else {
				err = w.graph(v, unnamed+"/", depth+1)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// maxAttributes bounds the attributes of a node, and the tensors and
// graphs of an attribute, that one node holds on to while it is walked
// (real nodes have a few; 1,024 keeps what a hostile node makes the walk
// allocate under 128 KiB).
const maxAttributes = 1 << 10

// keep appends f, a message (what) of the message at parent, to kept:
// at most maxAttributes of them.
func keep(kept []protoField, f protoField, what string, parent int64) ([]protoField, error) {
	if len(kept) == maxAttributes {
		return kept, formatErr(ONNX, "more than %d of %s at %d", maxAttributes, what, parent)
	}
	return append(kept, f), message(f, what)
}

// str reads a string field.
func (w *onnxWalker) str(f protoField, what string) (string, error) {
	if err := message(f, what); err != nil {
		return "", err
	}
	b, err := w.s.bytes(f.off, f.n)
	return string(b), err
}

// tensor adds the TensorProto in f to the table, if its data is one
// range of the file, named prefix+its name, or unnamed without one.
func (w *onnxWalker) tensor(f protoField, prefix, unnamed string) error {
	if len(w.tensors) >= w.lim.MaxTensors {
		return formatErr(ONNX, "more than %d tensors", w.lim.MaxTensors)
	}
	t, ok, err := readONNXTensor(w.s, f.off, f.off+f.n)
	if !ok || err != nil {
		return err
	}
	if t.Name == "" {
		t.Name = unnamed
	} else {
		t.Name = prefix + t.Name
	}
	w.tensors = append(w.tensors, t)
	return nil
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
				return Tensor{}, false, formatErr(ONNX, "tensor with two data fields at %d", f.off)
			}
			data = f
		case isData, f.num == 6, f.num == 13, f.num == 14 && f.value == 1:
			scattered = true
		}
		if len(t.Shape) > maxDims {
			return Tensor{}, false, formatErr(ONNX, "tensor with more than %d dimensions at %d", maxDims, f.off)
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
