// Package container reads the tensor tables of known model file formats
// (safetensors, GGUF, ONNX, TensorFlow Lite, TensorFlow.js weight
// manifests): the name, element type, shape and byte range of each
// tensor. Package delta uses them to pair the tensors of two versions of
// a model by name, so that a release whose exporter reordered the tensors
// is coded like one that changed them in place.
//
// A container is untrusted input (a model file handed to the repository
// side is as hostile as any file): every parser reads only through
// io.ReaderAt, bounds every count, length and offset before using it,
// never reads a tensor's data, and fails with an error wrapping
// ErrFormat. Memory and time are bounded by Limits whatever the input.
package container

import "errors"

// Format names a container format.
type Format string

// Known formats.
const (
	SafeTensors Format = "safetensors"
	GGUF        Format = "gguf"
	ONNX        Format = "onnx"
	TFLite      Format = "tflite"
	TFJS        Format = "tfjs"
)

var (
	// ErrFormat: the file claims to be a known container (its magic or
	// header says so) but its tensor table is malformed: truncated,
	// overlapping or out-of-range tensors, counts or lengths past
	// Limits.
	ErrFormat = errors.New("malformed model container")
	// ErrUnknown: the file is not a container this package knows. Not an
	// attack: delta then diffs it as plain bytes.
	ErrUnknown = errors.New("not a known model container")
)

// Tensor is one entry of a container's tensor table.
type Tensor struct {
	// Name is the tensor's name in the container, unique within it.
	Name string
	// DType is the element type, normalized across formats: "F64", "F32",
	// "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", or the
	// format's own name for anything else (quantized GGUF blocks, say).
	DType string
	// Shape is the tensor's dimensions as the container states them.
	Shape []int64
	// Offset and Length are the byte range of the tensor's data in the
	// file (for TFJS, in the weight shard). Length may be 0.
	Offset, Length int64
	// Skip is how many bytes of the tensor's data precede Offset in other
	// files: non-zero only for a TF.js tensor that starts in an earlier
	// weight shard (the table lists the part in its shard).
	Skip int64
}

// Table is a parsed container: its format and tensors, ordered by Offset.
// Tensors never overlap and lie within the file.
type Table struct {
	Format  Format
	Tensors []Tensor
}

// Limits bound a parse. The zero value means DefaultLimits.
type Limits struct {
	// MaxTensors bounds the number of tensors (and of any other table
	// entry the parser walks, such as GGUF metadata pairs).
	MaxTensors int
	// MaxHeader bounds the bytes of header, manifest or metadata read.
	MaxHeader int64
}

// DefaultLimits: a million tensors and 64 MiB of header, far above any
// real model (a 70B-parameter GGUF has about 1,000 tensors and a few MiB
// of header).
var DefaultLimits = Limits{MaxTensors: 1 << 20, MaxHeader: 64 << 20}

// Pair is a tensor of the old table paired with one of the new.
type Pair struct {
	Old, New Tensor
}
