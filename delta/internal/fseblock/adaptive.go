// Adaptive blocks (mode 8): the bytes of a block coded by package cm,
// an adaptive binary context model (order 0 and order 1 of each byte
// plane, mixed) with a range coder. Its probabilities follow the data
// within the block, where the static tables of the other modes fit a
// whole block: on the inserted fp16 weights of a retrained model it is
// 7% smaller than the best of them, but it decodes at a few MB/s,
// against hundreds for FSE and Huffman.
//
// The data of an Adaptive block is
//
//	classes     1 byte, 1 .. MaxClasses
//	spans       uvarint, 1 .. raw length
//	each span:  class 1 byte (< classes), length uvarint (>= 1)
//	coding      the cm coding of the block's bytes, span by span, each
//	            byte in its span's class; at least 4 bytes, ending
//	            exactly where the coding ends
//
// as a Planes block's, but for the coding: the spans cover the raw
// block exactly, and its raw length is the block header's. The model
// carries over from one Adaptive block to the next of the same stream
// (a sequence of blocks that one AppendBlocks call codes, and that one
// Decoder decodes after Reset): the first block starts from the model's
// initial state, each later one from the state the one before left.
package fseblock

import (
	"encoding/binary"
	"fmt"

	"github.com/edgetuf/edgetuf/delta/internal/cm"
)

const (
	// minAdaptive is the smallest block tried as an Adaptive block: the
	// model learns from nothing in each block, and a small block is
	// decoded at the cost of resetting its tables (cm.TableBytes).
	minAdaptive = 32 << 10
	// preferAdaptive is how much smaller (as a share) an Adaptive coding
	// must be than the block's best other coding to be kept: it decodes
	// 50-100 times more slowly than Huffman.
	preferAdaptive = 0.005
	// The classes of a block are the model's.
	_ = uint(cm.Classes - MaxClasses)
	// minAdaptiveData is the least data of an Adaptive block: a class
	// count, a span count, a span and the coder's final 4 bytes.
	minAdaptiveData = 1 + 1 + 2 + 4
)

// tryAdaptive replaces the block coded at dst[start:] with an Adaptive
// block of blk, of the classes in spans, when that is preferAdaptive
// smaller and the encoder's MaxAdaptive allows it.
func (e *Encoder) tryAdaptive(dst []byte, start int, blk []byte, spans []Span) []byte {
	if len(blk) < minAdaptive || len(blk) > e.MaxAdaptive {
		return dst
	}
	if e.cm == nil {
		e.cm = cm.NewEncoder()
	}
	if len(spans) == 0 {
		spans = []Span{{0, len(blk)}}
	}
	out := appendHeader(e.adaptive[:0], Adaptive, len(blk), 0)
	// The classes keep their numbers: the model carries over.
	out = appendSpans(out, spans, false)
	e.cm.Begin(out)
	pos := 0
	for _, s := range spans {
		e.cm.Span(blk[pos:pos+s.Len], s.Class)
		pos += s.Len
	}
	out = e.cm.Finish()
	e.adaptive = out
	if len(out)-HeaderLen > MaxBlock || float64(len(out)) >= float64(len(dst)-start)*(1-preferAdaptive) {
		e.cm.Undo()
		return dst
	}
	binary.BigEndian.PutUint32(out[5:], uint32(len(out)-HeaderLen))
	e.MaxAdaptive -= len(blk)
	return append(dst[:start], out...)
}

// adaptive decodes an Adaptive block.
func (d *Decoder) adaptive(dst []byte, rawLen int, data []byte) ([]byte, error) {
	m, k, spans, coding, _, err := parseSpans(data, rawLen)
	if err != nil {
		return nil, err
	}
	out := assemble(dst, &d.out, rawLen)
	if d.cm == nil {
		d.cm = cm.NewDecoder()
	} else if d.cmStale {
		d.cm.Reset()
	}
	d.cmStale = false
	d.cm.Begin(coding)
	pos := 0
	for i := uint64(0); i < k; i++ {
		c, l, r, _ := nextSpan(spans, m)
		if err := d.cm.Span(out[pos:pos+l], c); err != nil {
			return nil, fmt.Errorf("%w: adaptive block: coding cut short", ErrFormat)
		}
		pos += l
		spans = r
	}
	if err := d.cm.Finish(); err != nil {
		return nil, fmt.Errorf("%w: adaptive block: coding does not end with the data", ErrFormat)
	}
	return out, nil
}

// Reset starts a new stream: the next Adaptive block is decoded from
// the model's initial state. The model (cm.TableBytes) is reset then, if
// one comes: a stream without Adaptive blocks costs nothing.
func (d *Decoder) Reset() { d.cmStale = true }
