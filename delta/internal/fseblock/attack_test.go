package fseblock

// Hostile blocks that TestMalformedBlocks does not build: zstd frames
// that name a window past MaxBlock or hold only skippable frames, and
// entropy-coded data that decodes to more bytes than its header says.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/fse"
	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"
)

func TestHostileBlocks(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 12))
	// 200 KB of text in a frame that is not single-segment and names an
	// 8 MiB window: the decoder must not allocate it.
	text := bytes.Repeat([]byte("conv2d/kernel:0 "), 200000/16)
	wide, err := zstd.NewWriter(nil, zstd.WithWindowSize(8<<20), zstd.WithSingleSegment(false), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	wideFrame := wide.EncodeAll(text, nil)
	// EncodeAll fits the window to the input: name 8 MiB by hand (the
	// window descriptor, after the magic and the frame header
	// descriptor, is 2^(10 + its top 5 bits)).
	var hdr zstd.Header
	if err := hdr.Decode(wideFrame); err != nil || hdr.SingleSegment {
		t.Fatalf("frame header %+v: %v", hdr, err)
	}
	wideFrame[5] = 13 << 3
	if err := hdr.Decode(wideFrame); err != nil || hdr.WindowSize != 8<<20 {
		t.Fatalf("frame header %+v: %v", hdr, err)
	}
	// Skippable frames (magic 0x184D2A5?, a length, that many bytes)
	// decode to nothing: a block of them is refused, however many.
	var skippable []byte
	for len(skippable)+8 <= MaxBlock {
		skippable = binary.LittleEndian.AppendUint32(skippable, 0x184D2A50)
		skippable = binary.LittleEndian.AppendUint32(skippable, 0)
	}
	// A skewed block coded by FSE and by Huffman, handed to the decoder
	// with a raw length one byte short or long.
	skewed := make([]byte, 5000)
	for i := range skewed {
		skewed[i] = byte(r.IntN(4) * r.IntN(4) / 3)
	}
	fseData, err := fse.Compress(skewed, nil)
	if err != nil {
		t.Fatal(err)
	}
	fseData = bytes.Clone(fseData)
	huf, _, err := huff0.Compress4X(skewed, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		mode   byte
		rawLen int
		data   []byte
	}{
		{"zstd: window past MaxBlock", Zstd, len(text), wideFrame},
		{"zstd: only skippable frames", Zstd, 1, skippable},
		{"fse: one byte more than the header says", FSE, len(skewed) - 1, fseData},
		{"fse: one byte fewer than the header says", FSE, len(skewed) + 1, fseData},
		{"huffman: one byte more than the header says", Huffman, len(skewed) - 1, huf},
		{"huffman: one byte fewer than the header says", Huffman, len(skewed) + 1, huf},
	}
	for _, c := range cases {
		var d Decoder
		out, err := d.Decode(nil, c.mode, c.rawLen, c.data)
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: got %d bytes, error %v; want ErrFormat", c.name, len(out), err)
		}
	}
	// The honest lengths decode: the cases above fail for their lengths.
	var d Decoder
	for _, c := range []struct {
		mode byte
		data []byte
	}{{FSE, fseData}, {Huffman, huf}} {
		if out, err := d.Decode(nil, c.mode, len(skewed), c.data); err != nil || !bytes.Equal(out, skewed) {
			t.Errorf("mode %d: %v", c.mode, err)
		}
	}
}

// The decoder's own buffers stay at three MaxBlock buffers (Planes
// assembly, Huffman/RLE/zstd output, unpacked symbols or a rebuilt
// Context block) and a Context block's buckets (catLen, a lane more
// than MaxBlock: see rebuildLanes) whatever blocks it decodes,
// valid or not: a Planes block of a packed class and an RLE class uses
// three, one of a Context class (of RLE buckets) and a packed class all
// four. fse.Decompress's output is its Scratch's, at most MaxBlock more.
func TestDecoderBuffersBounded(t *testing.T) {
	t.Parallel()
	inner := append(header(RLE, 1, 1), 0)
	packedSub := append(append(header(Packed, 8, 1+len(inner)), 1), inner...)
	pl := planes(2, []Span{{0, 8}, {1, 8}}, packedSub, append(header(RLE, 8, 1), 7))
	var d Decoder
	out, err := d.Decode(nil, Planes, 16, pl)
	if err != nil || !bytes.Equal(out, append(make([]byte, 8), bytes.Repeat([]byte{7}, 8)...)) {
		t.Fatalf("%v %v", out, err)
	}
	// "abababab": 'b' after 'a' (bucket 1), 'a' after 0 or 'b' (bucket 0).
	byA := func(v int) byte {
		if v == 'a' {
			return 1
		}
		return 0
	}
	ctx := contextData(2, byA, []uint64{1, 1, 1, 1, 1, 1}, append(header(RLE, 4, 1), 'a'), append(header(RLE, 4, 1), 'b'))
	plCtx := planes(2, []Span{{0, 8}, {1, 8}}, append(header(Context, 8, len(ctx)), ctx...), packedSub)
	out, err = d.Decode(nil, Planes, 16, plCtx)
	if err != nil || string(out) != "abababab"+string(make([]byte, 8)) {
		t.Fatalf("%q %v", out, err)
	}
	for _, c := range []struct {
		mode   byte
		rawLen int
		data   []byte
	}{
		{Planes, MaxBlock, pl}, {Planes, MaxBlock, plCtx}, {Context, MaxBlock, ctx},
		{Zstd, MaxBlock, []byte("not zstd")}, {Huffman, MaxBlock, []byte{0xff, 1}},
		{RLE, MaxBlock, []byte{1}}, {Packed, MaxBlock, append([]byte{4}, inner...)},
	} {
		d.Decode(nil, c.mode, c.rawLen, c.data)
	}
	if n := cap(d.out) + cap(d.huf) + cap(d.unp) + len(d.ctx); n > 3*MaxBlock+catLen {
		t.Errorf("decoder buffers of %d bytes, more than 3 x MaxBlock + catLen", n)
	}
}
