//go:build (amd64 || arm64) && !purego

package planes

// The assembly (planes_amd64.s, planes_arm64.s) takes 16 words per step:
// one 16-byte vector of each plane. It derives its step count from
// len(s0) or len(src) alone, so the callers below pass every other slice
// already cut to the matching length (out: the width times as long).
const vectorWords = 16

// bytesVec combines out with src for op XOR or Sub; len(src) is a multiple
// of 16 and len(out) == len(src).
//
//go:noescape
func bytesVec(out, src []byte, op Op)

// words2Vec is Words2 for len(s0) a multiple of 16, len(s1) == len(s0),
// len(out) == 2*len(s0).
//
//go:noescape
func words2Vec(out, s0, s1 []byte, op Op)

// words4Vec is Words4 for len(s0) a multiple of 16, every plane as long,
// len(out) == 4*len(s0).
//
//go:noescape
func words4Vec(out, s0, s1, s2, s3 []byte, op Op)

// The *Bulk functions combine the first words, a multiple of 16, in
// assembly and return how many; Go finishes the rest. Slicing here is what
// makes the lengths the assembly trusts true.

func bytesBulk(out, src []byte, op Op) int {
	m := len(src) &^ (vectorWords - 1)
	if m > 0 {
		bytesVec(out[:m], src[:m], op)
	}
	return m
}

func words2Bulk(out, s0, s1 []byte, op Op) int {
	m := len(s0) &^ (vectorWords - 1)
	if m > 0 {
		words2Vec(out[:2*m], s0[:m], s1[:m], op)
	}
	return m
}

func words4Bulk(out, s0, s1, s2, s3 []byte, op Op) int {
	m := len(s0) &^ (vectorWords - 1)
	if m > 0 {
		words4Vec(out[:4*m], s0[:m], s1[:m], s2[:m], s3[:m], op)
	}
	return m
}
