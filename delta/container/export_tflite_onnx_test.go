package container

// Hooks for the external tests of this package (reorder_tflite_onnx_test.go),
// which import package delta and so cannot live in package container.

var (
	ParseTFLiteForTest = parseTFLite
	ParseONNXForTest   = parseONNX
)

// BuildFloatTFLiteForTest returns a TFLite model with one float32 tensor
// per name, its data laid out in the file in the given order of indexes.
func BuildFloatTFLiteForTest(names []string, data [][]byte, order []int) []byte {
	m := tfModel{subgraphs: [][]tfTensor{nil}, buffers: []tfBuffer{{}}}
	for i, name := range names {
		m.subgraphs[0] = append(m.subgraphs[0], tfTensor{name: name, shape: []int32{int32(len(data[i]) / 4)}, buffer: uint32(i + 1)})
		m.buffers = append(m.buffers, tfBuffer{data: data[i]})
	}
	m.order = []int{0}
	for _, i := range order {
		m.order = append(m.order, i+1)
	}
	file, _ := m.build()
	return file
}

// BuildFloatONNXForTest returns an ONNX model with one float32
// initializer per name, in the given order of indexes.
func BuildFloatONNXForTest(names []string, data [][]byte, order []int) []byte {
	var inits []onnxInit
	for _, i := range order {
		inits = append(inits, onnxInit{name: names[i], dataType: 1, dims: []int64{int64(len(data[i]) / 4)}, data: data[i]})
	}
	return onnxModel(inits, nil)
}
