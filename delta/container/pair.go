// Pairing the tensors of two versions of a model.

package container

import (
	"fmt"
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
	var pairs []Pair
	for i, j := range match {
		if j >= 0 {
			pairs = append(pairs, Pair{Old: old.Tensors[j], New: new.Tensors[i]})
		}
	}
	return slices.Clip(pairs)
}

// kind is a tensor's dtype and shape, as a map key.
func kind(t Tensor) string {
	return fmt.Sprint(t.DType, t.Shape)
}
