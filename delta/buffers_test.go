package delta

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
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
		window int64 // int64: 15<<38 does not fit the int of 32-bit platforms
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

// DiffMemory, which mrepo gives the collector as its limit, must cover
// Diff's live heap: measured after a collection at each segment, when the
// previous segment's trial codings are still held.
func TestDiffMemoryCoversLiveHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	size := 20 << 20
	old := floats(r, size/4)
	nw := bytes.Clone(old)
	copy(nw[size/2:], floats(r, size/16)) // some inserted weights
	for i := 0; i < len(nw); i += 4 {     // and every weight moved
		nw[i] ^= byte(r.IntN(4))
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	var peak uint64
	opts := Options{dump: func(_, _, _ []byte) {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc-before)
	}}
	st, _ := roundTrip(t, old, nw, opts)
	if st.Segments < 2 {
		t.Fatalf("%d segments: the test needs a second one", st.Segments)
	}
	if limit := DiffMemory(int64(len(old)), int64(len(nw)), opts); peak > uint64(limit) {
		t.Fatalf("live heap %d MiB, DiffMemory says %d MiB", peak>>20, limit>>20)
	} else {
		t.Logf("live heap %d MiB, DiffMemory %d MiB", peak>>20, limit>>20)
	}
}

func TestDiffMemoryBounded(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	small := DiffMemory(1<<20, 1<<20, Options{})
	if small < diffFixedMemory || small > diffFixedMemory+8<<20 {
		t.Fatalf("1 MiB files: %d bytes", small)
	}
	// The bounded mode's memory does not grow with the files.
	if a, b := DiffMemory(4*gib, 4*gib, Options{}), DiffMemory(64*gib, 64*gib, Options{}); a != b || a > 2*gib {
		t.Fatalf("4 GiB: %d, 64 GiB: %d", a, b)
	}
	if a, b := DiffMemory(gib, gib, Options{ChunkSize: 64 << 20}), DiffMemory(gib, gib, Options{}); a >= b {
		t.Fatalf("a smaller chunk needs %d, the default %d", a, b)
	}
}
