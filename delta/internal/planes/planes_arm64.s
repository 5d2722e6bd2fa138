//go:build !purego

#include "textflag.h"

// NEON (every arm64 CPU has it): 16 words per step, one 16-byte vector of
// each plane. Insert stores the planes interleaved with VST2/VST4, which
// do the whole shuffle. XOR needs no words either: VLD2/VLD4 split out
// into planes, which are XORed with the stream's and stored interleaved
// again. Sub adds words, so ZIP1/ZIP2 build them (bytes of two planes into
// 16-bit words, two vectors of those into 32-bit words), and zigzag
// decodes per lane, d = z>>1 ^ -(z&1): VCMTST against a lane value of 1
// gives the mask -(z&1). VADD has no carry between lanes: the modulo of
// the width. Op values: Insert 0, XOR 1, Sub 2.

// ZIGZAG(z, m, T) leaves the zigzag-decoded lanes (arrangement T) of z in
// z; m is scratch, V30 holds 1 in each lane.
#define ZIGZAG(z, m, T) \
	VCMTST V30.T, z.T, m.T \
	VUSHR  $1, z.T, z.T \
	VEOR   m.B16, z.B16, z.B16

// DISPATCH(len, op, done, xor, sub) sets R3 to the number of 16-word
// steps in len and jumps to the op's loop (Insert falls through).
#define DISPATCH(len, op, done, xor, sub) \
	MOVD  len, R3 \
	LSR   $4, R3, R3 \
	CBZ   R3, done \
	MOVBU op, R4 \
	CMP   $1, R4 \
	BEQ   xor \
	BHI   sub

// NEXT(loop) loops while steps remain.
#define NEXT(loop) \
	SUBS $1, R3, R3 \
	BNE  loop

// LOAD2 and LOAD4 load the next 16 bytes of each plane into V0-V1 or V0-V3.
#define LOAD2 \
	VLD1.P 16(R1), [V0.B16] \
	VLD1.P 16(R2), [V1.B16]

#define LOAD4 \
	LOAD2 \
	VLD1.P 16(R6), [V2.B16] \
	VLD1.P 16(R7), [V3.B16]

// func bytesVec(out, src []byte, op Op)
TEXT ·bytesVec(SB), NOSPLIT, $0-49
	MOVD  out_base+0(FP), R0
	MOVD  src_base+24(FP), R1
	MOVD  src_len+32(FP), R3
	LSR   $4, R3, R3
	CBZ   R3, bytesDone
	MOVBU op+48(FP), R4
	CMP   $1, R4
	BNE   bytesSub // any op but XOR is Sub: Insert never comes here (Bytes copies)

bytesXOR:
	VLD1.P 16(R1), [V0.B16]
	VLD1   (R0), [V1.B16]
	VEOR   V0.B16, V1.B16, V1.B16
	VST1.P [V1.B16], 16(R0)
	NEXT(bytesXOR)
	RET

bytesSub:
	VMOVI $1, V30.B16

bytesSubLoop:
	VLD1.P 16(R1), [V0.B16]
	VLD1   (R0), [V1.B16]
	ZIGZAG(V0, V2, B16)
	VADD   V0.B16, V1.B16, V1.B16
	VST1.P [V1.B16], 16(R0)
	NEXT(bytesSubLoop)

bytesDone:
	RET

// func words2Vec(out, s0, s1 []byte, op Op)
TEXT ·words2Vec(SB), NOSPLIT, $0-73
	MOVD  out_base+0(FP), R0
	MOVD  s0_base+24(FP), R1
	MOVD  s1_base+48(FP), R2
	DISPATCH(s0_len+32(FP), op+72(FP), words2Done, words2XOR, words2Sub)

words2Insert:
	LOAD2
	VST2.P [V0.B16, V1.B16], 32(R0)
	NEXT(words2Insert)
	RET

words2XOR:
	LOAD2
	VLD2   (R0), [V4.B16, V5.B16]
	VEOR   V0.B16, V4.B16, V4.B16
	VEOR   V1.B16, V5.B16, V5.B16
	VST2.P [V4.B16, V5.B16], 32(R0)
	NEXT(words2XOR)
	RET

words2Sub:
	MOVD $1, R5
	VDUP R5, V30.H8

words2SubLoop:
	LOAD2
	VZIP1  V1.B16, V0.B16, V2.B16 // words 0-7
	VZIP2  V1.B16, V0.B16, V3.B16 // words 8-15
	ZIGZAG(V2, V6, H8)
	ZIGZAG(V3, V7, H8)
	VLD1   (R0), [V4.H8, V5.H8]
	VADD   V2.H8, V4.H8, V4.H8
	VADD   V3.H8, V5.H8, V5.H8
	VST1.P [V4.H8, V5.H8], 32(R0)
	NEXT(words2SubLoop)

words2Done:
	RET

// func words4Vec(out, s0, s1, s2, s3 []byte, op Op)
TEXT ·words4Vec(SB), NOSPLIT, $0-121
	MOVD  out_base+0(FP), R0
	MOVD  s0_base+24(FP), R1
	MOVD  s1_base+48(FP), R2
	MOVD  s2_base+72(FP), R6
	MOVD  s3_base+96(FP), R7
	DISPATCH(s0_len+32(FP), op+120(FP), words4Done, words4XOR, words4Sub)

words4Insert:
	LOAD4
	VST4.P [V0.B16, V1.B16, V2.B16, V3.B16], 64(R0)
	NEXT(words4Insert)
	RET

words4XOR:
	LOAD4
	VLD4   (R0), [V4.B16, V5.B16, V6.B16, V7.B16]
	VEOR   V0.B16, V4.B16, V4.B16
	VEOR   V1.B16, V5.B16, V5.B16
	VEOR   V2.B16, V6.B16, V6.B16
	VEOR   V3.B16, V7.B16, V7.B16
	VST4.P [V4.B16, V5.B16, V6.B16, V7.B16], 64(R0)
	NEXT(words4XOR)
	RET

words4Sub:
	MOVD $1, R5
	VDUP R5, V30.S4

words4SubLoop:
	LOAD4
	VZIP1  V1.B16, V0.B16, V4.B16 // planes 0-1: 16-bit words 0-7
	VZIP2  V1.B16, V0.B16, V5.B16 // 8-15
	VZIP1  V3.B16, V2.B16, V6.B16 // planes 2-3: 16-bit words 0-7
	VZIP2  V3.B16, V2.B16, V7.B16 // 8-15
	VZIP1  V6.H8, V4.H8, V16.H8   // 32-bit words 0-3
	VZIP2  V6.H8, V4.H8, V17.H8   // 4-7
	VZIP1  V7.H8, V5.H8, V18.H8   // 8-11
	VZIP2  V7.H8, V5.H8, V19.H8   // 12-15
	ZIGZAG(V16, V4, S4)
	ZIGZAG(V17, V5, S4)
	ZIGZAG(V18, V6, S4)
	ZIGZAG(V19, V7, S4)
	VLD1   (R0), [V20.S4, V21.S4, V22.S4, V23.S4]
	VADD   V16.S4, V20.S4, V20.S4
	VADD   V17.S4, V21.S4, V21.S4
	VADD   V18.S4, V22.S4, V22.S4
	VADD   V19.S4, V23.S4, V23.S4
	VST1.P [V20.S4, V21.S4, V22.S4, V23.S4], 64(R0)
	NEXT(words4SubLoop)

words4Done:
	RET
