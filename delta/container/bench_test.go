package container_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/edgetuf/edgetuf/delta/container"
	"github.com/edgetuf/edgetuf/delta/container/containertest"
)

// manyTensors is a model of n small F32 tensors: the table of a large
// model (a 70B GGUF has about 1,000 tensors; 100,000 is far past any).
func manyTensors(n int) []containertest.Tensor {
	ts := make([]containertest.Tensor, n)
	for i := range ts {
		ts[i] = containertest.Tensor{Name: fmt.Sprintf("blk.%d.ffn_up.weight", i), DType: "F32", Shape: []int64{8}, Data: make([]byte, 32)}
	}
	return ts
}

func benchParse(b *testing.B, file []byte) {
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := container.Parse(bytes.NewReader(file), int64(len(file)), container.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseGGUF100kTensors(b *testing.B) {
	benchParse(b, containertest.GGUF(manyTensors(100000), 0))
}

func BenchmarkParseSafeTensors100kTensors(b *testing.B) {
	benchParse(b, containertest.SafeTensors(manyTensors(100000)))
}

func BenchmarkPairTensors100k(b *testing.B) {
	ts := manyTensors(100000)
	old := &container.Table{}
	for i, t := range ts {
		old.Tensors = append(old.Tensors, container.Tensor{Name: t.Name, DType: t.DType, Shape: t.Shape, Offset: int64(32 * i), Length: 32})
	}
	nw := &container.Table{Tensors: append([]container.Tensor(nil), old.Tensors...)}
	for i := range nw.Tensors {
		nw.Tensors[i].Offset = int64(32 * (len(ts) - 1 - i))
		if i%2 == 0 {
			nw.Tensors[i].Name += ".renamed" // half pair by dtype and shape
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		container.PairTensors(old, nw)
	}
}
