package fseblock

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// contextBlocks codes n bytes of slowly walking exponents (the high-byte
// plane of fp16 weights, as isnet's extra stream holds it) and checks that
// every block is a Context block, the kind whose decoding the 64 MiB
// pairs' apply spends most on.
func contextBlocks(tb testing.TB, n int) (raw, enc []byte) {
	tb.Helper()
	raw = exponentWalk(rand.New(rand.NewPCG(11, 12)), n)
	var e Encoder
	enc = e.AppendBlocks(nil, raw, nil)
	for rest := enc; len(rest) > 0; {
		mode, _, dataLen, err := Header(rest)
		if err != nil || mode != Context {
			tb.Fatalf("block mode %d (%v), want Context", mode, err)
		}
		rest = rest[HeaderLen+dataLen:]
	}
	return raw, enc
}

// BenchmarkDecodeContext decodes MaxBlock Context blocks (their buckets'
// Huffman or FSE blocks and the rebuild), into the caller's buffer as
// the delta stream reader does.
func BenchmarkDecodeContext(b *testing.B) {
	raw, enc := contextBlocks(b, 4*MaxBlock)
	var d Decoder
	dst := make([]byte, MaxBlock)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		for rest := enc; len(rest) > 0; {
			mode, rawLen, dataLen, _ := Header(rest)
			if _, err := d.Decode(dst, mode, rawLen, rest[HeaderLen:HeaderLen+dataLen]); err != nil {
				b.Fatal(err)
			}
			rest = rest[HeaderLen+dataLen:]
		}
	}
}

// BenchmarkRebuildLanes rebuilds a MaxBlock Context block from its
// decoded buckets: the order-1 part of its decoding.
func BenchmarkRebuildLanes(b *testing.B) {
	raw, enc := contextBlocks(b, MaxBlock)
	var d Decoder
	var lay contextLayout
	if err := d.contextBuckets(len(raw), enc[HeaderLen:], &lay); err != nil {
		b.Fatal(err)
	}
	out := make([]byte, len(raw))
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if !rebuildLanes(out, d.ctx, &lay) {
			b.Fatal("rebuild fails")
		}
	}
	if !bytes.Equal(out, raw) {
		b.Fatal("rebuilt block differs")
	}
}
