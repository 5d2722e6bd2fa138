// The matcher: finds exact matches between the new chunk and the old window
// through hash tables of anchored blocks.

package delta

import (
	"bytes"
	"math/bits"
)

// match is an exact match: new[newPos:newPos+n] == old[oldPos:oldPos+n]
// (chunk and window coordinates).
type match struct {
	newPos, oldPos, n int
}

// matcher keeps the anchor index between chunks.
type matcher struct {
	table []uint64
}

// tables returns the zeroed hash table (hash tag in the high 32 bits,
// position+1 in the low 32) for an old window of oldLen bytes, reusing
// the previous one's memory.
func (mt *matcher) tables(oldLen int) []uint64 {
	mt.reserve(oldLen)
	mt.table = mt.table[:tableSize(oldLen)]
	clear(mt.table)
	return mt.table
}

// reserve allocates the table for old windows of up to oldLen bytes.
func (mt *matcher) reserve(oldLen int) {
	if n := tableSize(oldLen); cap(mt.table) < n {
		mt.table = make([]uint64, n)
	}
}

// tableSize is the number of slots of the anchor index of an old window
// of oldLen bytes: a power of two, at least twice the expected anchors.
func tableSize(oldLen int) int {
	expect := oldLen>>anchorBits + 1
	return 1 << bits.Len(uint(expect*2-1))
}

// Rolling hash over blockSize bytes: h = sum b[i]*hashMul^(B-1-i).
const hashMul = 0x100000001b3

// findMatches finds exact matches of at least blockSize bytes between
// new and old. Anchors are the positions whose rolling hash over the next
// B bytes has anchorBits zero bits at a fixed place: they depend on
// content only, so data that moved keeps its anchors. Every anchor of old
// is indexed; a rolling hash over new looks up new's anchors, and a hit is
// verified and extended both ways. Time is linear in the sizes (one
// multiply-add per byte, a table probe per anchor); the index costs 16
// bytes per 2^anchorBits bytes of old. A matching region is found unless
// it holds no anchor, which for a region of L bytes happens with
// probability about exp(-L/32).
func (mt *matcher) findMatches(old, nw []byte) []match {
	const B = 32
	if len(old) < B || len(nw) < B {
		return nil
	}
	table := mt.tables(len(old))
	mask := uint64(len(table) - 1)
	tshift := 64 - (bits.Len(uint(len(table))) - 1)
	pow := uint64(1)
	for i := 0; i < B-1; i++ {
		pow *= hashMul
	}
	h := blockHash(old[:B])
	for i := 0; ; i++ {
		if m := h * mixMul; isAnchor(m) {
			insert(table, mask, m>>tshift, h, i, old)
		}
		if i+B >= len(old) {
			break
		}
		h = (h-uint64(old[i])*pow)*hashMul + uint64(old[i+B])
	}
	var ms []match
	lastEnd := 0
	p := 0
	h = blockHash(nw[:B])
	for {
		if m := h * mixMul; isAnchor(m) {
			if o, ok := lookup(table, mask, m>>tshift, h, old, nw[p:p+B]); ok {
				s, so := p, o
				for s > lastEnd && so > 0 && nw[s-1] == old[so-1] {
					s--
					so--
				}
				e, eo := p+B, o+B
				for e < len(nw) && eo < len(old) && nw[e] == old[eo] {
					e++
					eo++
				}
				ms = append(ms, match{newPos: s, oldPos: so, n: e - s})
				lastEnd = e
				p = e
				if p+B > len(nw) {
					break
				}
				h = blockHash(nw[p : p+B])
				continue
			}
		}
		if p+B >= len(nw) {
			break
		}
		h = (h-uint64(nw[p])*pow)*hashMul + uint64(nw[p+B])
		p++
	}
	return ms
}

// anchorBits sets the anchor density: one position in 2^anchorBits.
const anchorBits = 5

// mixMul scrambles the rolling hash, whose low bits are weak, before its
// bits choose anchors and table slots.
const mixMul = 0x9E3779B97F4A7C15

// isAnchor tests bits 20.. of the mixed hash; table slots use the top bits.
func isAnchor(m uint64) bool { return (m>>20)&(1<<anchorBits-1) == 0 }

// insert indexes position i of old under hash h, unless the same bytes
// are already indexed.
func insert(table []uint64, mask, slot, h uint64, i int, old []byte) {
	tag := h >> 32
	for probe := 0; probe < 16; slot, probe = (slot+1)&mask, probe+1 {
		e := table[slot]
		if e == 0 {
			table[slot] = tag<<32 | uint64(i+1)
			return
		}
		if e>>32 == tag && bytes.Equal(old[int(e&0xffffffff)-1:][:32], old[i:][:32]) {
			return
		}
	}
}

func blockHash(b []byte) uint64 {
	var h uint64
	for _, c := range b {
		h = h*hashMul + uint64(c)
	}
	return h
}

func lookup(table []uint64, mask, slot, h uint64, old, want []byte) (int, bool) {
	tag := h >> 32
	for probe := 0; probe < 16; slot, probe = (slot+1)&mask, probe+1 {
		e := table[slot]
		if e == 0 {
			return 0, false
		}
		if e>>32 == tag {
			o := int(e&0xffffffff) - 1
			if bytes.Equal(old[o:o+len(want)], want) {
				return o, true
			}
		}
	}
	return 0, false
}
