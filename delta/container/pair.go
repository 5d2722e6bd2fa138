// Pairing the tensors of two versions of a model.

package container

import (
	"encoding/binary"
	"slices"
)

// PairTensors pairs the tensors of two tables: by name first, then the
// remaining ones by dtype and shape, in table order (the first unpaired
// old tensor of a dtype and shape with the first unpaired new one). Each
// tensor is in at most one pair; the result is in the new table's order
// and depends only on the tables.
func PairTensors(old, new *Table) []Pair {
	if old == nil || new == nil {
		return nil
	}
	byName := make(map[string]int, len(old.Tensors))
	for i, t := range old.Tensors {
		if _, dup := byName[t.Name]; !dup {
			byName[t.Name] = i
		}
	}
	usedOld := make([]bool, len(old.Tensors))
	match := make([]int, len(new.Tensors))
	for i, t := range new.Tensors {
		match[i] = -1
		if j, ok := byName[t.Name]; ok && !usedOld[j] {
			match[i], usedOld[j] = j, true
		}
	}
	// The rest by dtype and shape: a queue of unpaired old tensors per kind.
	queues := map[string][]int{}
	for j, t := range old.Tensors {
		if !usedOld[j] {
			k := kind(t)
			queues[k] = append(queues[k], j)
		}
	}
	for i, t := range new.Tensors {
		if match[i] >= 0 {
			continue
		}
		k := kind(t)
		if q := queues[k]; len(q) > 0 {
			match[i], queues[k] = q[0], q[1:]
		}
	}
	n := 0
	for _, j := range match {
		if j >= 0 {
			n++
		}
	}
	pairs := make([]Pair, 0, n)
	for i, j := range match {
		if j >= 0 {
			pairs = append(pairs, Pair{Old: old.Tensors[j], New: new.Tensors[i]})
		}
	}
	return pairs
}

// kind is a tensor's dtype and shape, as a map key.
func kind(t Tensor) string {
	b := append(make([]byte, 0, len(t.DType)+1+8*len(t.Shape)), t.DType...)
	b = append(b, 0) // a dtype name holds no NUL
	for _, d := range t.Shape {
		b = binary.LittleEndian.AppendUint64(b, uint64(d))
	}
	return string(b)
}

// Move says that Length bytes of the new file at NewOffset hold what the
// old file holds at OldOffset, moved and perhaps changed.
type Move struct {
	NewOffset, OldOffset, Length int64
}

// Moves returns the pairs whose tensors are at different offsets as
// moves: the bytes of the tensor both hold (all of the shorter, or the
// common part of two parts of a TF.js tensor cut at shard bounds).
func Moves(pairs []Pair) []Move {
	var ms []Move
	for _, p := range pairs {
		lo := max(p.Old.Skip, p.New.Skip)
		hi := min(p.Old.Skip+p.Old.Length, p.New.Skip+p.New.Length)
		m := Move{NewOffset: p.New.Offset + lo - p.New.Skip, OldOffset: p.Old.Offset + lo - p.Old.Skip, Length: hi - lo}
		if m.Length > 0 && m.NewOffset != m.OldOffset {
			ms = append(ms, m)
		}
	}
	return ms
}

// NormalizeMoves returns the moves clipped to both files (oldLen and
// newLen bytes), sorted by NewOffset, and cut so that they do not overlap
// in the new file (a move overlapping the one before loses its head).
func NormalizeMoves(in []Move, oldLen, newLen int64) []Move {
	ms := make([]Move, 0, len(in))
	for _, m := range in {
		if m.NewOffset < 0 || m.OldOffset < 0 || m.NewOffset >= newLen || m.OldOffset >= oldLen {
			continue
		}
		if m.Length = min(m.Length, newLen-m.NewOffset, oldLen-m.OldOffset); m.Length > 0 {
			ms = append(ms, m)
		}
	}
	slices.SortStableFunc(ms, func(a, b Move) int { return cmpInt64(a.NewOffset, b.NewOffset) })
	out := ms[:0]
	var end int64
	for _, m := range ms {
		if cut := end - m.NewOffset; cut > 0 {
			m.NewOffset, m.OldOffset, m.Length = m.NewOffset+cut, m.OldOffset+cut, m.Length-cut
		}
		if m.Length > 0 {
			out = append(out, m)
			end = m.NewOffset + m.Length
		}
	}
	return slices.Clip(out)
}
