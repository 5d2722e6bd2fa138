// Package modelpairs generates deterministic pairs of model-like files (an
// old and a new version) for testing and benchmarking delta updates
// (package delta, `mrepo delta`, bench/delta.sh).
//
// A pair is named after the change between its two versions, the changes
// model updates make in practice: the last layers retrained ("tail"),
// every weight nudged by a fine-tune ("finetune"), quantized tensors
// rewritten and inserted so that offsets shift ("int8-insert"), a
// safetensors-like header edited and one tensor retrained ("head"), plus
// "identical" and "different" for edge cases. Float weights are
// little-endian float32 drawn from a normal distribution with standard
// deviation 0.05, as in a trained network; int8 weights are such values
// quantized, round(z*40) clamped to [-128, 127].
//
// Every byte is a function of (pair name, size, seed) only: files are
// built from 64 KiB chunks, each drawn from its own PCG generator seeded
// from the seed, the stream it belongs to and its index, so the same
// arguments give the same bytes on every machine and with any number of
// CPUs. Write streams the files in 1 MiB pieces, generated in parallel and
// written in order, so a 4 GiB pair never sits in memory; 1 GiB takes a
// few seconds. Bytes returns small pairs in memory for tests.
//
// The size is the length of the old file. The new file has the same
// length except for "int8-insert", whose new file is longer by the
// inserted blocks (Lengths tells both). Sizes 0, 1, 3, 7 and other sizes
// that are not a multiple of 4 bytes are valid for every pair.
package modelpairs

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
)

// Pair describes one kind of pair.
type Pair struct {
	Name        string
	Description string
}

var pairs = []Pair{
	{"tail", "float32 weights (normal, std 0.05); the last 1/16 of the file (4 MiB of 64 MiB) is replaced by new weights: retrained head / last layers replaced"},
	{"finetune", "float32 weights (normal, std 0.05); every weight multiplied by 1+e, e ~ normal(0, 0.001): a fine-tune moved every weight by about 0.1%"},
	{"int8-insert", "int8 quantized weights in blocks of up to 64 KiB (size/64, at least 1 byte); in the new file 10% of the blocks are rewritten and 5% more blocks (at least 1) are inserted at random places, so offsets shift and the new file is longer"},
	{"head", "safetensors-like: 8-byte length + 4088 bytes of JSON header (tensor table, metadata), then 20 float32 tensors of 5% each; the new file changes a few metadata values (same header length) and replaces tensor 10 of 20"},
	{"identical", "float32 weights; old and new are identical"},
	{"different", "two unrelated files of uniformly random bytes"},
}

// Pairs lists every pair, in a fixed order.
func Pairs() []Pair { return slices.Clone(pairs) }

// Names lists the names of every pair, in the order of Pairs.
func Names() []string {
	names := make([]string, len(pairs))
	for i, p := range pairs {
		names[i] = p.Name
	}
	return names
}

// Lengths returns the lengths of the old and new files of a pair of the
// given size.
func Lengths(name string, size int64) (oldLen, newLen int64, err error) {
	o, n, err := build(name, size, 0)
	if err != nil {
		return 0, 0, err
	}
	return o.size(), n.size(), nil
}

// Write generates the pair name of the given size and seed, writing the
// old file to old and then the new file to new. A nil writer skips that
// file.
func Write(name string, size int64, seed uint64, old, new io.Writer) error {
	o, n, err := build(name, size, seed)
	if err != nil {
		return err
	}
	if old != nil {
		if err := o.writeTo(old); err != nil {
			return err
		}
	}
	if new != nil {
		if err := n.writeTo(new); err != nil {
			return err
		}
	}
	return nil
}

// Bytes returns the pair in memory, for tests. It panics if name is not a
// pair or size is negative.
func Bytes(name string, size int, seed uint64) (old, new []byte) {
	o, n, err := build(name, int64(size), seed)
	if err != nil {
		panic(err)
	}
	old, new = make([]byte, o.size()), make([]byte, n.size())
	o.fill(old, 0)
	n.fill(new, 0)
	return old, new
}

// Stream identifiers: each independent random stream of a pair has its
// own, so that the old and new versions share exactly what they should.
const (
	streamOld uint64 = iota + 1
	streamNew
	streamNoise
	streamInsert
	streamLayout
	streamHalves
)

func build(name string, size int64, seed uint64) (old, new file, err error) {
	old, new, err = build1(name, size, seed)
	return place(old), place(new), err
}

func build1(name string, size int64, seed uint64) (old, new file, err error) {
	if size < 0 {
		return nil, nil, fmt.Errorf("modelpairs: negative size %d", size)
	}
	switch name {
	case "identical":
		w := floats{seed, streamOld}
		return file{sp(size, w, 0)}, file{sp(size, w, 0)}, nil
	case "different":
		return file{sp(size, uniform{seed, streamOld}, 0)}, file{sp(size, uniform{seed, streamNew}, 0)}, nil
	case "tail":
		return buildTail(size, seed)
	case "finetune":
		return file{sp(size, floats{seed, streamOld}, 0)}, file{sp(size, finetuned{seed, streamOld, streamNoise}, 0)}, nil
	case "int8-insert":
		return buildInt8Insert(size, seed)
	case "head":
		return buildHead(size, seed)
	}
	return nil, nil, fmt.Errorf("modelpairs: unknown pair %q (pairs: %v)", name, Names())
}

// buildTail: the last ceil(size/16) bytes, widened down to a float32
// boundary, are new weights.
func buildTail(size int64, seed uint64) (old, new file, err error) {
	start := size - (size+15)/16
	start -= start % 4
	oldW, newW := floats{seed, streamOld}, floats{seed, streamNew}
	return file{sp(size, oldW, 0)}, file{sp(start, oldW, 0), sp(size-start, newW, start)}, nil
}

// buildInt8Insert: the old file is one stream of int8 weights cut into
// blocks; the new file takes each block from the old stream, or from a
// second stream where it is rewritten, and has fresh blocks from a third
// stream inserted before some blocks (or at the end).
func buildInt8Insert(size int64, seed uint64) (old, new file, err error) {
	oldW, newW, insW := int8s{seed, streamOld}, int8s{seed, streamNew}, int8s{seed, streamInsert}
	old = file{sp(size, oldW, 0)}
	if size == 0 {
		return old, file{}, nil
	}
	block := min(max(size/64, 1), 64<<10)
	nblocks := (size + block - 1) / block
	r := rand.New(newRand(seed, streamLayout, 0))
	nRewrite := (nblocks + 5) / 10
	nInsert := max((nblocks+10)/20, 1)
	rewritten := make(map[int64]bool, nRewrite)
	for len(rewritten) < int(nRewrite) {
		rewritten[r.Int64N(nblocks)] = true
	}
	inserts := make([]int64, nInsert) // insert a block before block inserts[k]; nblocks = at the end
	for k := range inserts {
		inserts[k] = r.Int64N(nblocks + 1)
	}
	sort.Slice(inserts, func(i, j int) bool { return inserts[i] < inserts[j] })
	k := 0
	for b := int64(0); b <= nblocks; b++ {
		for ; k < len(inserts) && inserts[k] == b; k++ {
			new = append(new, sp(block, insW, int64(k)*block))
		}
		if b == nblocks {
			break
		}
		off := b * block
		n := min(block, size-off)
		if rewritten[b] {
			new = append(new, sp(n, newW, off))
		} else {
			new = append(new, sp(n, oldW, off))
		}
	}
	return old, new, nil
}

// The "head" pair: a safetensors-like file.
const (
	headHeaderLen = 4096 // 8-byte length + JSON padded with spaces
	headTensors   = 20
	headRetrained = 10 // the tensor the new version replaces
)

func buildHead(size int64, seed uint64) (old, new file, err error) {
	dataLen := max(size-headHeaderLen, 0)
	oldH, newH := headHeader(dataLen, false), headHeader(dataLen, true)
	hl := min(size, headHeaderLen)
	oldW, newW := floats{seed, streamOld}, floats{seed, streamNew}
	old = file{sp(hl, fixed(oldH), 0), sp(dataLen, oldW, 0)}
	per := dataLen / headTensors / 4 * 4
	a, b := headRetrained*per, (headRetrained+1)*per
	new = file{sp(hl, fixed(newH), 0), sp(a, oldW, 0), sp(b-a, newW, a), sp(dataLen-b, oldW, b)}
	return old, new, nil
}

// headHeader returns the 4096-byte header: a little-endian uint64 length
// then JSON padded with spaces. The new version differs only in a few
// metadata values of the same length, so tensor offsets do not move.
func headHeader(dataLen int64, newVersion bool) []byte {
	version, steps, created, loss := "1.0.0", "120000", "2025-01-10T08:00:00Z", "0.4187"
	if newVersion {
		version, steps, created, loss = "1.1.0", "126500", "2025-02-14T16:30:00Z", "0.3962"
	}
	var j bytes.Buffer
	j.WriteString(`{"__metadata__":{"format":"pt","model":"edge-detector-lite","version":"` + version +
		`","trained_steps":"` + steps + `","created":"` + created + `","eval_loss":"` + loss +
		`","license":"test-only","labels":"`)
	for i := range 120 {
		if i > 0 {
			j.WriteByte(',')
		}
		fmt.Fprintf(&j, "class_%03d", i)
	}
	j.WriteString(`"}`)
	per := dataLen / headTensors / 4 * 4
	layers := []string{"attn.q", "attn.k", "attn.v", "attn.o", "mlp.up", "mlp.down", "norm1", "norm2", "conv", "proj"}
	for t := int64(0); t < headTensors; t++ {
		a, b := t*per, (t+1)*per
		if t == headTensors-1 {
			b = dataLen
		}
		fmt.Fprintf(&j, `,"blocks.%d.%s.weight":{"dtype":"F32","shape":[%d],"data_offsets":[%d,%d]}`,
			t/len64(layers), layers[t%len64(layers)], (b-a)/4, a, b)
	}
	j.WriteByte('}')
	if j.Len() > headHeaderLen-8 {
		panic("modelpairs: head header too long")
	}
	h := make([]byte, headHeaderLen)
	n := uint64(headHeaderLen - 8)
	for i := range 8 {
		h[i] = byte(n >> (8 * i))
	}
	copy(h[8:], j.Bytes())
	for i := 8 + j.Len(); i < headHeaderLen; i++ {
		h[i] = ' '
	}
	return h
}

func len64[T any](s []T) int64 { return int64(len(s)) }
