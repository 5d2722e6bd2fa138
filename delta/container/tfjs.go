// TensorFlow.js layers and graph models: model.json's weightsManifest
// lists groups of weights; each group's weights are stored in order,
// without padding, across the concatenation of the group's shard files
// (paths). The converter cuts every group into shards of one fixed size
// but the last, which ParseTFJS relies on to place a shard in its group.

package container

import (
	"encoding/json"
	"fmt"
)

type tfjsManifest struct {
	WeightsManifest []tfjsGroup `json:"weightsManifest"`
}

type tfjsGroup struct {
	Paths   []string     `json:"paths"`
	Weights []tfjsWeight `json:"weights"`
}

type tfjsWeight struct {
	Name         string            `json:"name"`
	Shape        []int64           `json:"shape"`
	DType        string            `json:"dtype"`
	Quantization *tfjsQuantization `json:"quantization"`
	Group        string            `json:"group"`
}

type tfjsQuantization struct {
	DType         string   `json:"dtype"`
	Scale         *float64 `json:"scale"`
	Min           *float64 `json:"min"`
	OriginalDType string   `json:"original_dtype"`
}

// tfjsDTypes are the stored element types: their normalized name and size.
var tfjsDTypes = map[string]struct {
	name string
	size int64
}{
	"float32": {"F32", 4}, "int32": {"I32", 4}, "bool": {"BOOL", 1}, "complex64": {"C64", 8},
	"uint8": {"U8", 1}, "uint16": {"U16", 2}, "float16": {"F16", 2},
}

// ParseTFJS reads the tensor table of one TF.js weight shard from the
// model.json manifest that describes it: shard is the shard's path as
// the manifest names it (or "" for the only shard of a manifest that
// names one), size its length in bytes (which must match what the
// manifest implies). Tensors that continue in a neighbouring shard
// are clipped to this one. The error wraps ErrUnknown when the manifest
// does not name the shard, ErrFormat when it is malformed or disagrees
// with size.
func ParseTFJS(manifest []byte, shard string, size int64, lim Limits) (*Table, error) {
	lim = lim.orDefault()
	if int64(len(manifest)) > lim.MaxHeader {
		return nil, formatErr(TFJS, "manifest of %d bytes, past the limit of %d", len(manifest), lim.MaxHeader)
	}
	var m tfjsManifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, formatErr(TFJS, "manifest: %v", err)
	}
	var found *tfjsGroup
	index, weights, paths := 0, 0, 0
	for gi := range m.WeightsManifest {
		g := &m.WeightsManifest[gi]
		weights += len(g.Weights)
		if weights > lim.MaxTensors {
			return nil, formatErr(TFJS, "more than %d weights", lim.MaxTensors)
		}
		for pi, p := range g.Paths {
			if paths++; shard == "" && found == nil {
				found, index = g, pi
			}
			if shard == "" || p != shard {
				continue
			}
			if found != nil {
				return nil, formatErr(TFJS, "shard %s is named twice", quote(shard))
			}
			found, index = g, pi
		}
	}
	if shard == "" && paths != 1 {
		return nil, fmt.Errorf("%w: the manifest names %d shards, not one", ErrUnknown, paths)
	}
	if found == nil {
		return nil, fmt.Errorf("%w: the manifest does not name %s", ErrUnknown, quote(shard))
	}
	return tfjsShard(found, index, size, lim)
}

// tfjsShard places shard index (size bytes) of group g and returns the
// tensors that lie in it, clipped and relative to its start.
func tfjsShard(g *tfjsGroup, index int, size int64, lim Limits) (*Table, error) {
	type span struct {
		w          *tfjsWeight
		dtype      string
		start, end int64
	}
	spans := make([]span, 0, len(g.Weights))
	var total int64
	for i := range g.Weights {
		w := &g.Weights[i]
		stored := w.DType
		if w.Quantization != nil {
			stored = w.Quantization.DType
		}
		dt, ok := tfjsDTypes[stored]
		if !ok || (w.Quantization == nil && (stored == "uint8" || stored == "uint16" || stored == "float16")) {
			return nil, formatErr(TFJS, "weight %s: stored dtype %s is not one of fixed size", quote(w.Name), quote(stored))
		}
		elems, ok := elements(w.Shape)
		if !ok || elems > maxElements/8 || len(w.Shape) > maxDims {
			return nil, formatErr(TFJS, "weight %s: shape %v", quote(w.Name), w.Shape)
		}
		n := elems * dt.size
		if total > maxElements-n {
			return nil, formatErr(TFJS, "group larger than %d bytes", int64(maxElements))
		}
		spans = append(spans, span{w, dt.name, total, total + n})
		total += n
	}
	// Every shard but the last is full: shard i starts at i*full.
	last := len(g.Paths) - 1
	var start int64
	switch {
	case index < last:
		// last full shards, then a last one of 1 to size bytes.
		if size <= 0 || int64(last) > (total-1)/size || total-int64(last)*size > size {
			return nil, formatErr(TFJS, "%d-byte shard %d of %d does not fit a %d-byte group", size, index+1, last+1, total)
		}
		start = int64(index) * size
	case last == 0:
		if size != total {
			return nil, formatErr(TFJS, "%d-byte shard for a %d-byte group", size, total)
		}
	default:
		start = total - size
		if size <= 0 || start < 0 || start%int64(last) != 0 || start/int64(last) < size {
			return nil, formatErr(TFJS, "last shard of %d bytes does not fit a %d-byte group in %d shards", size, total, last+1)
		}
	}
	t := &Table{Format: TFJS}
	names := make(map[string]bool, len(spans))
	for _, s := range spans {
		if names[s.w.Name] {
			return nil, formatErr(TFJS, "duplicate weight name %s", quote(s.w.Name))
		}
		names[s.w.Name] = true
		b, e := max(s.start, start), min(s.end, start+size)
		if b >= e && !(s.start == s.end && s.start >= start && s.start < start+size) {
			continue
		}
		if len(t.Tensors) >= lim.MaxTensors {
			return nil, formatErr(TFJS, "more than %d tensors", lim.MaxTensors)
		}
		t.Tensors = append(t.Tensors, Tensor{Name: s.w.Name, DType: s.dtype, Shape: s.w.Shape, Offset: b - start, Length: max(e-b, 0), Skip: b - s.start})
	}
	return newTable(TFJS, t.Tensors, size)
}
