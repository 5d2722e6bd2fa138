// TensorFlow Lite models: a FlatBuffer (schema tensorflow/lite/schema).

package container

import "io"

// isTFLite reports whether head (the file's first bytes) starts a TFLite
// FlatBuffer: the file identifier "TFL3" at offset 4.
func isTFLite(head []byte) bool {
	return len(head) >= 8 && string(head[4:8]) == "TFL3"
}

// parseTFLite reads the tensor table of a TFLite model.
func parseTFLite(r io.ReaderAt, size int64, lim Limits) (*Table, error) {
	return nil, ErrUnknown
}
