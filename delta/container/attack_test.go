package container_test

// Attacks on the tables and on pairing that the parsers' own malicious
// tests do not perform: ranks past maxDims, a million tensors to pair,
// hostile moves.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/delta/container"
)

// A shape of more than 64 dimensions is refused by every format that has
// no smaller bound of its own: without the bound a shape of a million
// 1s costs 8 MB in the table and in every pairing key built from it.
func TestRankPastMaxDims(t *testing.T) {
	t.Parallel()
	shape := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("1,", n), ",") + "]" }
	st := func(n int) []byte {
		return safeTensorsFile(`{"a":{"dtype":"F32","shape":`+shape(n)+`,"data_offsets":[0,4]}}`, 4)
	}
	tfjs := func(n int) []byte {
		return []byte(`{"weightsManifest":[{"paths":["s"],"weights":[{"name":"a","dtype":"float32","shape":` + shape(n) + `}]}]}`)
	}
	for _, n := range []int{64, 65, 1 << 16} {
		wantErr := n > 64
		f := st(n)
		_, err := container.Parse(bytes.NewReader(f), int64(len(f)), container.Limits{})
		if wantErr != errors.Is(err, container.ErrFormat) || !wantErr && err != nil {
			t.Errorf("safetensors rank %d: %v", n, err)
		}
		_, err = container.ParseTFJS(tfjs(n), "s", 4, container.Limits{})
		if wantErr != errors.Is(err, container.ErrFormat) || !wantErr && err != nil {
			t.Errorf("tfjs rank %d: %v", n, err)
		}
	}
}

// millionTables are two tables of 10^6 4-byte tensors, the new one in
// reverse order; every name differs, so all are paired by dtype and
// shape, through one queue of a million (the worst case of pairing).
func millionTables() (old, nw *container.Table) {
	const n = 1 << 20
	old, nw = &container.Table{}, &container.Table{}
	old.Tensors = make([]container.Tensor, n)
	nw.Tensors = make([]container.Tensor, n)
	shape := []int64{1}
	for i := range n {
		old.Tensors[i] = container.Tensor{Name: fmt.Sprint("o", i), DType: "F32", Shape: shape, Offset: 4 * int64(i), Length: 4}
		nw.Tensors[i] = container.Tensor{Name: fmt.Sprint("n", i), DType: "F32", Shape: shape, Offset: 4 * int64(n-1-i), Length: 4}
	}
	return old, nw
}

// Pairing 2^20 tensors (the most a parse returns) pairs each once, in
// order; its cost is measured by BenchmarkPairTensorsMillion.
func TestPairTensorsMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("2^20 tensors")
	}
	old, nw := millionTables()
	pairs := container.PairTensors(old, nw)
	if len(pairs) != len(nw.Tensors) {
		t.Fatalf("%d pairs of %d tensors", len(pairs), len(nw.Tensors))
	}
	for i, p := range pairs {
		if p.New.Name != nw.Tensors[i].Name || p.Old.Name != old.Tensors[i].Name {
			t.Fatalf("pair %d: %s with %s", i, p.Old.Name, p.New.Name)
		}
	}
	ms := container.NormalizeMoves(container.Moves(pairs), 4<<20, 4<<20)
	if len(ms) != len(pairs) || ms[0].NewOffset != 0 || ms[0].OldOffset != 4<<20-4 {
		t.Fatalf("%d moves from %d pairs, first %+v", len(ms), len(pairs), ms[0])
	}
}

func BenchmarkPairTensorsMillion(b *testing.B) {
	old, nw := millionTables()
	b.ReportAllocs()
	for b.Loop() {
		container.NormalizeMoves(container.Moves(container.PairTensors(old, nw)), 4<<20, 4<<20)
	}
}

// Tables a caller builds by hand (PairTensors and Moves are exported) may
// repeat names and hold any Skip: each tensor is still in at most one
// pair, and the moves, once normalized, lie within both files, sorted
// and disjoint.
func TestPairAndMoveHostileTables(t *testing.T) {
	t.Parallel()
	big := int64(math.MaxInt64)
	tensors := []container.Tensor{
		{Name: "a", DType: "F32", Shape: []int64{1}, Offset: 0, Length: 4},
		{Name: "a", DType: "F32", Shape: []int64{1}, Offset: 4, Length: 4},
		{Name: "b", DType: "F32", Shape: []int64{1}, Offset: big, Length: big},
		{Name: "c", DType: "F32", Shape: []int64{2}, Offset: -big, Length: 8, Skip: big},
		{Name: "d", DType: "F32", Shape: []int64{2}, Offset: 100, Length: big, Skip: -big},
		{Name: "e", DType: "U8", Shape: nil, Offset: 50, Length: -7},
	}
	old := &container.Table{Tensors: tensors}
	nw := &container.Table{Tensors: append([]container.Tensor{{Name: "a", DType: "F32", Shape: []int64{1}, Offset: 8, Length: 4}}, tensors...)}
	for i := range nw.Tensors {
		nw.Tensors[i].Offset ^= 12
	}
	pairs := container.PairTensors(old, nw)
	used := map[int64]int{}
	for _, p := range pairs {
		used[p.Old.Offset]++
	}
	for off, n := range used {
		if n > 1 {
			t.Errorf("old tensor at %d in %d pairs", off, n)
		}
	}
	const oldLen, newLen = 64, 80
	var end int64
	for _, m := range container.NormalizeMoves(container.Moves(pairs), oldLen, newLen) {
		if m.NewOffset < end || m.Length <= 0 || m.OldOffset < 0 || m.OldOffset+m.Length > oldLen || m.NewOffset+m.Length > newLen {
			t.Errorf("move %+v (previous ended at %d) outside the %d- and %d-byte files", m, end, oldLen, newLen)
		}
		end = m.NewOffset + m.Length
	}
}

// A manifest nested past encoding/json's depth limit (in a field
// ParseTFJS does not read) is refused, not walked.
func TestTFJSManifestNestedDeep(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	m := []byte(`{"modelTopology":` + deep + `,"weightsManifest":[{"paths":["s"],"weights":[]}]}`)
	if _, err := container.ParseTFJS(m, "s", 0, container.Limits{}); !errors.Is(err, container.ErrFormat) {
		t.Fatalf("got %v, want ErrFormat", err)
	}
}
