package container

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzParse parses data with tight limits and checks that the parse
// either fails with ErrFormat or ErrUnknown or returns a table that keeps
// Table's promises, within bounded reads.
func fuzzParse(t *testing.T, parse parser, data []byte) {
	r := &countingReaderAt{r: bytes.NewReader(data)}
	lim := Limits{MaxTensors: 1 << 10, MaxHeader: 1 << 20}
	table, err := parse(r, int64(len(data)), lim)
	if r.read > 2*lim.MaxHeader+pageSize {
		t.Fatalf("read %d bytes, past twice MaxHeader", r.read)
	}
	if err != nil {
		if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnknown) {
			t.Fatalf("untyped error %v", err)
		}
		return
	}
	if len(table.Tensors) > lim.MaxTensors {
		t.Fatalf("%d tensors, past MaxTensors", len(table.Tensors))
	}
	checkTable(t, table, int64(len(data)))
}

func FuzzParseTFLite(f *testing.F) {
	file, _ := testModel().build()
	f.Add(file)
	ext, _ := tfModel{
		subgraphs: [][]tfTensor{{{name: "a", buffer: 1}}, {{name: "b", buffer: 2}}},
		buffers:   []tfBuffer{{}, {ext: true, off: 8, size: 8}, {data: []byte{1, 2}}},
	}.build()
	f.Add(ext)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, parseTFLite, data) })
}

func FuzzParseONNX(f *testing.F) {
	file, _ := testONNX()
	f.Add(file)
	f.Add(nestedModel(3))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, parseONNX, data) })
}
