package delta

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
)

// Apply sizes its output and read-ahead buffers by the header's target
// length: round trips at the sizes where the sizing changes (a shuffle
// block, a page, one buffer, three) rebuild the target exactly.
func TestApplyBuffersSizedByTarget(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 4095, 4096, ShuffleBlock - 1, ShuffleBlock, ShuffleBlock + 1, 3*ShuffleBlock + 1, outBuf, 3*outBuf + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			old := randomBytes(n)
			nw := bytes.Clone(old)
			for i := 0; i < n; i += 1000 {
				nw[i] ^= 0x5A
			}
			nw = append(nw, "appended"...)[:n]
			roundTrip(t, old, nw, Options{})
		})
	}
}

func TestOutBufSize(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{0, 1, 4095, 4096, ShuffleBlock, 3 * ShuffleBlock, 3*ShuffleBlock + 1, 1 << 20, 3 * outBuf, 1 << 40} {
		size := outBufSize(n)
		if size < ShuffleBlock || size > outBuf || size%ShuffleBlock != 0 {
			t.Fatalf("target %d: output buffers of %d bytes", n, size)
		}
		if int64(outBufs*size) < min(n, outBufs*outBuf) {
			t.Fatalf("target %d: %d buffers of %d bytes do not hold it", n, outBufs, size)
		}
	}
	if outBufSize(1<<20) >= outBuf {
		t.Fatalf("a 1 MiB target gets %d-byte buffers, as large as any", outBufSize(1<<20))
	}
}

// rawFrame is a zstd frame of one raw block holding data, declaring the
// window descriptor wd (RFC 8878 3.1.1.1.2) and no content size.
func rawFrame(wd byte, data []byte) []byte {
	f := []byte{0x28, 0xB5, 0x2F, 0xFD, 0x00, wd}
	bh := uint32(1) | uint32(len(data))<<3 // last block, raw
	f = append(f, byte(bh), byte(bh>>8), byte(bh>>16))
	return append(f, data...)
}

// A frame may declare a window up to maxWindow, whatever the target's
// size; one above it is refused as malformed before any allocation.
func TestDecoderWindowLimit(t *testing.T) {
	t.Parallel()
	extra := randomBytes(1000)
	ctrl := zstdBytes(t, appendRecord(nil, record{op: opInsert, width: 1, length: 1000}))
	h := Header{BaseLength: 16, TargetLength: 1000, TargetSHA256: sha256.Sum256(extra)}
	for _, c := range []struct {
		wd     byte
		window int
		ok     bool
	}{
		{13 << 3, 8 << 20, true},     // 2^23: the maximum
		{13<<3 | 1, 9 << 20, false},  // 2^23 + 2^20
		{14 << 3, 16 << 20, false},   // 2^24
		{10 << 3, 1 << 20, true},     // far above the 1000-byte target
		{31<<3 | 7, 15 << 38, false}, // the largest a descriptor can say
	} {
		stream := rawFrame(c.wd, extra)
		p := h.marshal()
		p = append(p, segmentHeader{1000, uint32(len(ctrl)), 0, uint32(len(stream))}.marshal()...)
		p = append(p, ctrl...)
		p = append(p, stream...)
		out, err := applyBytes(make([]byte, 16), p, Limits{MaxPatchRatio: -1})
		if c.ok && (err != nil || !bytes.Equal(out, extra)) {
			t.Fatalf("window %d: %v", c.window, err)
		}
		if !c.ok && !errors.Is(err, ErrFormat) {
			t.Fatalf("window %d: error %v, want ErrFormat", c.window, err)
		}
	}
}
