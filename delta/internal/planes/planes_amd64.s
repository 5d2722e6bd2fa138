//go:build !purego

#include "textflag.h"

// SSE2 (every amd64 CPU has it): 16 words per step, one 16-byte vector of
// each plane. PUNPCKL/PUNPCKH interleave the low/high halves of two
// vectors, so bytes of two planes become 16-bit words, and two vectors of
// 16-bit words become 32-bit words. The op is chosen once, outside the
// loops. Sub decodes zigzag per lane, d = z>>1 ^ -(z&1), the sign mask
// -(z&1) being z shifted left and then arithmetically right by the lane
// width less one, and adds d to out's lanes (PADD: no carry between
// lanes, the modulo of the width). Op values: Insert 0, XOR 1, Sub 2.

// ZIGZAG(z, t, SHL, SAR, SHR, n) leaves the zigzag-decoded lanes of z in z
// (t is scratch, n the lane width in bits less one).
#define ZIGZAG(z, t, SHL, SAR, SHR, n) \
	MOVOU z, t \
	SHL   $n, t \
	SAR   $n, t \
	SHR   $1, z \
	PXOR  t, z

// DISPATCH(len, op, done, xor, sub) sets CX to the number of 16-word
// steps in len and jumps to the op's loop (Insert falls through).
#define DISPATCH(len, op, done, xor, sub) \
	MOVQ len, CX \
	SHRQ $4, CX \
	JZ   done \
	MOVB op, AX \
	CMPB AX, $1 \
	JEQ  xor \
	JHI  sub

// NEXT(n, loop) moves out on by n bytes and loops while steps remain.
#define NEXT(n, loop) \
	ADDQ $n, DI \
	DECQ CX \
	JNZ  loop

// func bytesVec(out, src []byte, op Op)
TEXT ·bytesVec(SB), NOSPLIT, $0-49
	MOVQ out_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	SHRQ $4, CX
	JZ   bytesDone
	CMPB op+48(FP), $1
	JNE  bytesSub // any op but XOR is Sub: Insert never comes here (Bytes copies)

bytesXOR:
	MOVOU (SI), X0
	MOVOU (DI), X1
	PXOR  X1, X0
	MOVOU X0, (DI)
	ADDQ  $16, SI
	ADDQ  $16, DI
	DECQ  CX
	JNZ   bytesXOR
	RET

bytesSub:
	// No byte shifts in SSE2: z>>1 is a 16-bit shift masked with 0x7f
	// per byte, and -(z&1) is 0 - (z & 0x01 per byte).
	PCMPEQB  X8, X8
	PSRLW    $15, X8
	PACKUSWB X8, X8 // 0x01 in each byte
	PCMPEQB  X9, X9
	PSRLW    $9, X9
	PACKUSWB X9, X9 // 0x7f in each byte

bytesSubLoop:
	MOVOU (SI), X0
	MOVOU X0, X2
	PSRLW $1, X0
	PAND  X9, X0
	PAND  X8, X2
	PXOR  X3, X3
	PSUBB X2, X3
	PXOR  X3, X0
	MOVOU (DI), X1
	PADDB X0, X1
	MOVOU X1, (DI)
	ADDQ  $16, SI
	ADDQ  $16, DI
	DECQ  CX
	JNZ   bytesSubLoop

bytesDone:
	RET

// WORDS2 loads 16 bytes of each plane and leaves words 0-7 in X0 and
// 8-15 in X2.
#define WORDS2 \
	MOVOU     (SI), X0 \
	MOVOU     (DX), X1 \
	MOVOU     X0, X2 \
	PUNPCKLBW X1, X0 \
	PUNPCKHBW X1, X2 \
	ADDQ      $16, SI \
	ADDQ      $16, DX

// LOAD2 loads out's 32 bytes into X4, X5; STORE2 stores X0, X2 there.
#define LOAD2 \
	MOVOU (DI), X4 \
	MOVOU 16(DI), X5

#define STORE2 \
	MOVOU X0, (DI) \
	MOVOU X2, 16(DI)

// func words2Vec(out, s0, s1 []byte, op Op)
TEXT ·words2Vec(SB), NOSPLIT, $0-73
	MOVQ out_base+0(FP), DI
	MOVQ s0_base+24(FP), SI
	MOVQ s1_base+48(FP), DX
	DISPATCH(s0_len+32(FP), op+72(FP), words2Done, words2XOR, words2Sub)

words2Insert:
	WORDS2
	STORE2
	NEXT(32, words2Insert)
	RET

words2XOR:
	WORDS2
	LOAD2
	PXOR  X4, X0
	PXOR  X5, X2
	STORE2
	NEXT(32, words2XOR)
	RET

words2Sub:
	WORDS2
	ZIGZAG(X0, X4, PSLLW, PSRAW, PSRLW, 15)
	ZIGZAG(X2, X5, PSLLW, PSRAW, PSRLW, 15)
	LOAD2
	PADDW X4, X0
	PADDW X5, X2
	STORE2
	NEXT(32, words2Sub)

words2Done:
	RET

// WORDS4 loads 16 bytes of each plane, pairs planes 0-1 and 2-3 into
// 16-bit words, then pairs those into 32-bit words: words 0-3 in X0, 4-7
// in X1, 8-11 in X4, 12-15 in X3.
#define WORDS4 \
	MOVOU     (SI), X0 \
	MOVOU     (DX), X1 \
	MOVOU     (R8), X2 \
	MOVOU     (R9), X3 \
	MOVOU     X0, X4 \
	PUNPCKLBW X1, X0 \
	PUNPCKHBW X1, X4 \
	MOVOU     X2, X5 \
	PUNPCKLBW X3, X2 \
	PUNPCKHBW X3, X5 \
	MOVOU     X0, X1 \
	PUNPCKLWL X2, X0 \
	PUNPCKHWL X2, X1 \
	MOVOU     X4, X3 \
	PUNPCKLWL X5, X4 \
	PUNPCKHWL X5, X3 \
	ADDQ      $16, SI \
	ADDQ      $16, DX \
	ADDQ      $16, R8 \
	ADDQ      $16, R9

// LOAD4 loads out's 64 bytes into X6-X9; STORE4 stores words 0-15 there.
#define LOAD4 \
	MOVOU (DI), X6 \
	MOVOU 16(DI), X7 \
	MOVOU 32(DI), X8 \
	MOVOU 48(DI), X9

#define STORE4 \
	MOVOU X0, (DI) \
	MOVOU X1, 16(DI) \
	MOVOU X4, 32(DI) \
	MOVOU X3, 48(DI)

// func words4Vec(out, s0, s1, s2, s3 []byte, op Op)
TEXT ·words4Vec(SB), NOSPLIT, $0-121
	MOVQ out_base+0(FP), DI
	MOVQ s0_base+24(FP), SI
	MOVQ s1_base+48(FP), DX
	MOVQ s2_base+72(FP), R8
	MOVQ s3_base+96(FP), R9
	DISPATCH(s0_len+32(FP), op+120(FP), words4Done, words4XOR, words4Sub)

words4Insert:
	WORDS4
	STORE4
	NEXT(64, words4Insert)
	RET

words4XOR:
	WORDS4
	LOAD4
	PXOR  X6, X0
	PXOR  X7, X1
	PXOR  X8, X4
	PXOR  X9, X3
	STORE4
	NEXT(64, words4XOR)
	RET

words4Sub:
	WORDS4
	ZIGZAG(X0, X6, PSLLL, PSRAL, PSRLL, 31)
	ZIGZAG(X1, X7, PSLLL, PSRAL, PSRLL, 31)
	ZIGZAG(X4, X8, PSLLL, PSRAL, PSRLL, 31)
	ZIGZAG(X3, X9, PSLLL, PSRAL, PSRLL, 31)
	LOAD4
	PADDL X6, X0
	PADDL X7, X1
	PADDL X8, X4
	PADDL X9, X3
	STORE4
	NEXT(64, words4Sub)

words4Done:
	RET
