// safetensors (huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON mapping each tensor's name to its dtype,
// shape and data_offsets [begin, end) relative to the end of the header,
// and an optional "__metadata__" object of strings.

package container

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
)

// isSafeTensors reports whether head starts a safetensors file: the JSON
// header's opening brace right after the 8-byte length.
func isSafeTensors(head []byte) bool {
	if len(head) < 10 || head[8] != '{' {
		return false
	}
	switch head[9] {
	case '"', '}', ' ', '\n', '\r', '\t':
		return true
	}
	return false
}

// safeTensorsSizes are the element sizes of the dtypes safetensors names;
// a dtype not listed is accepted without checking its length.
var safeTensorsSizes = map[string]int64{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
	"U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
}

type safeTensorsEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

func parseSafeTensors(r io.ReaderAt, size int64, lim Limits) (*Table, error) {
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil && err != io.EOF {
		return nil, err
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > uint64(size-8) {
		return nil, formatErr(SafeTensors, "header of %d bytes in a %d-byte file", n, size)
	}
	if int64(n) > lim.MaxHeader {
		return nil, formatErr(SafeTensors, "header of %d bytes, past the limit of %d", n, lim.MaxHeader)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil && err != io.EOF {
		return nil, err
	}
	dataStart, dataLen := 8+int64(n), size-8-int64(n)
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.DisallowUnknownFields()
	bad := func(what string, args ...any) (*Table, error) {
		return nil, formatErr(SafeTensors, what, args...)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return bad("header is not a JSON object")
	}
	t := &Table{Format: SafeTensors}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("header: %v", err)
		}
		name := tok.(string) // an object's keys are strings
		if name == "__metadata__" {
			var meta map[string]string
			if err := dec.Decode(&meta); err != nil {
				return bad("__metadata__: %v", err)
			}
			continue
		}
		if len(t.Tensors) >= lim.MaxTensors {
			return bad("more than %d tensors", lim.MaxTensors)
		}
		var e safeTensorsEntry
		if err := dec.Decode(&e); err != nil {
			return bad("tensor %s: %v", quote(name), err)
		}
		if len(e.DataOffsets) != 2 || e.DataOffsets[0] < 0 || e.DataOffsets[0] > e.DataOffsets[1] || e.DataOffsets[1] > dataLen {
			return bad("tensor %s: data_offsets %v outside the %d bytes of data", quote(name), e.DataOffsets, dataLen)
		}
		elems, ok := elements(e.Shape)
		if !ok || len(e.Shape) > maxDims {
			return bad("tensor %s: shape %v", quote(name), e.Shape)
		}
		length := e.DataOffsets[1] - e.DataOffsets[0]
		if es, known := safeTensorsSizes[e.DType]; known && elems*es != length {
			return bad("tensor %s: %d bytes for %d elements of %s", quote(name), length, elems, e.DType)
		}
		t.Tensors = append(t.Tensors, Tensor{Name: name, DType: e.DType, Shape: e.Shape, Offset: dataStart + e.DataOffsets[0], Length: length})
	}
	if _, err := dec.Token(); err != nil {
		return bad("header: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("data after the header's JSON object")
	}
	return newTable(SafeTensors, t.Tensors, size)
}
