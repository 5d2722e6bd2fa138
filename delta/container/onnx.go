// ONNX models: a protocol buffer ModelProto (onnx/onnx.proto).

package container

import "io"

// isONNX reports whether head (the file's first bytes) looks like the
// start of an ONNX ModelProto. ONNX has no magic number.
func isONNX(head []byte) bool {
	return false
}

// parseONNX reads the tensor table (the graph's initializers) of an ONNX
// model.
func parseONNX(r io.ReaderAt, size int64, lim Limits) (*Table, error) {
	return nil, ErrUnknown
}
