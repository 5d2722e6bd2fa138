package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/delta/internal/fseblock"

	"github.com/klauspost/compress/zstd"
)

// craft builds a patch by hand: one segment per entry of segs, each with
// its raw control records and uncompressed diff and extra streams.
type rawSegment struct {
	outLen       uint32
	records      []record
	diff, extra  []byte
	ctrlOverride []byte // used instead of encoding records when set
}

func craft(t testing.TB, h Header, segs ...rawSegment) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	out := h.marshal()
	for _, s := range segs {
		ctrl := s.ctrlOverride
		if ctrl == nil {
			for _, r := range s.records {
				ctrl = appendRecord(ctrl, r)
			}
		}
		var streams [3][]byte
		for i, b := range [][]byte{ctrl, s.diff, s.extra} {
			if len(b) > 0 {
				streams[i] = enc.EncodeAll(b, nil)
			}
		}
		out = append(out, segmentHeader{s.outLen, uint32(len(streams[0])), uint32(len(streams[1])), uint32(len(streams[2]))}.marshal()...)
		for _, b := range streams {
			out = append(out, b...)
		}
	}
	return out
}

func applyBytes(base, patch []byte, lim Limits) ([]byte, error) {
	var out bytes.Buffer
	_, err := Apply(bytes.NewReader(base), int64(len(base)), bytes.NewReader(patch), int64(len(patch)), &out, lim)
	return out.Bytes(), err
}

func TestMaliciousPatches(t *testing.T) {
	base := bytes.Repeat([]byte("0123456789abcdef"), 256) // 4 KiB
	target := append(bytes.Clone(base[:1000]), []byte("new bytes")...)
	hdr := func(targetLen int64, sum [32]byte) Header {
		return Header{BaseLength: int64(len(base)), BaseSHA256: sha256.Sum256(base), TargetLength: targetLen, TargetSHA256: sum}
	}
	good := hdr(int64(len(target)), sha256.Sum256(target))
	valid := craft(t, good, rawSegment{outLen: uint32(len(target)), records: []record{
		{op: opCopy, length: 1000, offset: 0},
		{op: opInsert, width: 1, length: 9},
	}, extra: []byte("new bytes")})
	if out, err := applyBytes(base, valid, Limits{}); err != nil || !bytes.Equal(out, target) {
		t.Fatalf("the hand-made patch does not work: %v", err)
	}

	noRatio := Limits{MaxPatchRatio: -1}
	for _, c := range []struct {
		name  string
		patch []byte
		lim   Limits
		want  error
	}{
		{"empty", nil, noRatio, ErrFormat},
		{"header only, half", valid[:50], noRatio, ErrFormat},
		{"truncated in the segment header", valid[:HeaderSize+7], noRatio, ErrFormat},
		{"truncated in the streams", valid[:len(valid)-3], noRatio, ErrFormat},
		{"trailing data", append(bytes.Clone(valid), 0), noRatio, ErrFormat},
		{"wrong magic", append([]byte("BSDIFF40"), valid[8:]...), noRatio, ErrFormat},
		{"unknown version", func() []byte { p := bytes.Clone(valid); p[8] = 2; return p }(), noRatio, ErrFormat},
		{"unknown compressor", func() []byte { p := bytes.Clone(valid); p[9] = 7; return p }(), noRatio, ErrFormat},
		{"reserved bytes set", func() []byte { p := bytes.Clone(valid); p[12] = 1; return p }(), noRatio, ErrFormat},
		{"base length differs", craft(t, Header{BaseLength: 5, TargetLength: 9}, rawSegment{outLen: 9, records: []record{{op: opInsert, width: 1, length: 9}}, extra: []byte("new bytes")}), noRatio, ErrBase},
		{"copy past the base end", craft(t, good, rawSegment{outLen: uint32(len(target)), records: []record{
			{op: opCopy, length: 1000, offset: uint64ToInt(4000)}, {op: opInsert, width: 1, length: 9}}, extra: []byte("new bytes")}), noRatio, ErrFormat},
		{"copy at a huge offset", craft(t, good, rawSegment{outLen: uint32(len(target)), records: []record{
			{op: opCopy, length: 1000, offset: 1 << 61}, {op: opInsert, width: 1, length: 9}}, extra: []byte("new bytes")}), noRatio, ErrFormat},
		{"offset overflow", craft(t, good, rawSegment{outLen: uint32(len(target)), ctrlOverride: binary.AppendUvarint(binary.AppendUvarint([]byte{opCopy}, 1000), 1<<63)}), noRatio, ErrFormat},
		{"record past the segment", craft(t, good, rawSegment{outLen: uint32(len(target)), records: []record{
			{op: opCopy, length: 2000, offset: 0}}}), noRatio, ErrFormat},
		{"segment past the target", craft(t, good, rawSegment{outLen: uint32(len(target)) + 1, records: []record{
			{op: opCopy, length: int64(len(target)) + 1, offset: 0}}}), noRatio, ErrFormat},
		{"zero-length segment", craft(t, good, rawSegment{outLen: 0}), noRatio, ErrFormat},
		{"control stream too short", craft(t, good, rawSegment{outLen: uint32(len(target)), records: []record{
			{op: opCopy, length: 1000, offset: 0}}}), noRatio, ErrFormat},
		{"control stream cut inside a record", craft(t, good, rawSegment{outLen: uint32(len(target)), ctrlOverride: []byte{opCopy}}), noRatio, ErrFormat},
		{"control stream too long", craft(t, good, rawSegment{outLen: uint32(len(target)), records: []record{
			{op: opCopy, length: 1000, offset: 0}, {op: opInsert, width: 1, length: 9}, {op: opCopy, length: 1, offset: 0}}, extra: []byte("new bytes")}), noRatio, ErrFormat},
		{"unknown operation", craft(t, good, rawSegment{outLen: uint32(len(target)), ctrlOverride: []byte{9, 1, 1}}), noRatio, ErrFormat},
		{"width 3", craft(t, good, rawSegment{outLen: uint32(len(target)), ctrlOverride: []byte{opXOR, 3, 4, 0}}), noRatio, ErrFormat},
		{"zero length", craft(t, good, rawSegment{outLen: uint32(len(target)), ctrlOverride: []byte{opCopy, 0, 0}}), noRatio, ErrFormat},
		{"unaligned width-4 record", craft(t, good, rawSegment{outLen: uint32(len(target)), records: []record{
			{op: opCopy, length: 1, offset: 0}, {op: opXOR, width: 4, length: 8, offset: 0}}, diff: make([]byte, 8)}), noRatio, ErrFormat},
		{"extra stream too short", craft(t, good, rawSegment{outLen: uint32(len(target)), records: []record{
			{op: opCopy, length: 1000, offset: 0}, {op: opInsert, width: 1, length: 9}}, extra: []byte("new")}), noRatio, ErrFormat},
		{"extra stream too long", craft(t, good, rawSegment{outLen: uint32(len(target)), records: []record{
			{op: opCopy, length: 1000, offset: 0}, {op: opInsert, width: 1, length: 9}}, extra: []byte("new bytes and more")}), noRatio, ErrFormat},
		{"diff stream too short", craft(t, good, rawSegment{outLen: uint32(len(target)), records: []record{
			{op: opXOR, width: 1, length: 1009, offset: 0}}, diff: make([]byte, 10)}), noRatio, ErrFormat},
		{"stream not zstd", func() []byte {
			p := bytes.Clone(valid)
			p[HeaderSize+SegmentHeaderSize] ^= 0xff // first byte of the control frame's magic
			return p
		}(), noRatio, ErrFormat},
		{"FSE stream: block header cut", fseCase(t, good, base, []byte(fseMagic+"\x01\x00")), noRatio, ErrFormat},
		{"FSE stream: unknown mode", fseCase(t, good, base, append([]byte(fseMagic), 8, 0, 0, 0, 9, 0, 0, 0, 9)), noRatio, ErrFormat},
		{"FSE stream: empty block", fseCase(t, good, base, append([]byte(fseMagic), 0, 0, 0, 0, 0, 0, 0, 0, 0)), noRatio, ErrFormat},
		{"FSE stream: block too large", fseCase(t, good, base, append([]byte(fseMagic), 2, 0, 0x10, 0, 0, 0, 0, 0, 1, 'x')), noRatio, ErrFormat},
		{"FSE stream: stored length differs", fseCase(t, good, base, append([]byte(fseMagic), 0, 0, 0, 0, 9, 0, 0, 0, 8, 'n', 'e', 'w', ' ', 'b', 'y', 't', 'e')), noRatio, ErrFormat},
		{"FSE stream: data cut", fseCase(t, good, base, append([]byte(fseMagic), 0, 0, 0, 0, 9, 0, 0, 0, 9, 'n', 'e', 'w')), noRatio, ErrFormat},
		{"FSE stream: not FSE data", fseCase(t, good, base, append([]byte(fseMagic), 1, 0, 0, 0, 9, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff)), noRatio, ErrFormat},
		{"FSE stream: too short for its records", fseCase(t, good, base, append([]byte(fseMagic), 2, 0, 0, 0, 3, 0, 0, 0, 1, 'x')), noRatio, ErrFormat},
		{"FSE stream: planes spans short of the block", fseCase(t, good, base, planesStream(4, 4, "new ", "byte")), noRatio, ErrFormat},
		{"FSE stream: zstd block of the wrong length", fseCase(t, good, base, zstdBlockStream(t, 9, "new byte")), noRatio, ErrFormat},
		{"FSE stream: zstd block past the stream", fseCase(t, good, base, zstdBlockStream(t, 9, "new bytes, and then more")), noRatio, ErrFormat},
		{"FSE stream: context bucket out of range", fseCase(t, good, base, contextStream(9, 2, 2, laneCounts, "e yes", "nwbt")), noRatio, ErrFormat},
		{"FSE stream: context buckets short of the block", fseCase(t, good, base, contextStream(9, 2, 1, laneCounts, "e ye", "nwbt")), noRatio, ErrFormat},
		{"FSE stream: context bucket shorter than its contexts", fseCase(t, good, base, contextStream(9, 2, 1, laneCounts, "e ye", "nwbts")), noRatio, ErrFormat},
		{"FSE stream: data past its records", fseCase(t, good, base, append([]byte(fseMagic), 2, 0, 0, 0, 12, 0, 0, 0, 1, 'x')), noRatio, ErrFormat},
		{"wrong target hash", craft(t, hdr(int64(len(target)), [32]byte{1}), rawSegment{outLen: uint32(len(target)), records: []record{
			{op: opCopy, length: 1000, offset: 0}, {op: opInsert, width: 1, length: 9}}, extra: []byte("new bytes")}), noRatio, ErrTarget},
		{"output larger than allowed", valid, Limits{MaxOutput: int64(len(target)) - 1}, ErrLimit},
		{"patch larger than its output", craft(t, Header{BaseLength: int64(len(base)), TargetLength: 5000}, rawSegment{outLen: 5000, records: []record{
			{op: opInsert, width: 1, length: 5000}}, extra: randomBytes(5000)}), Limits{MaxPatchRatio: 0.5}, ErrLimit},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			_, err := applyBytes(base, c.patch, c.lim)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			// Apply waits for its read-ahead, hash and write goroutines
			// on every path, failures included. (The wait is for the
			// testing package's own goroutines, which end asynchronously.)
			for deadline := time.Now().Add(30 * time.Second); runtime.NumGoroutine() > before; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					buf := make([]byte, 1<<16)
					t.Fatalf("%d goroutines after a failed Apply, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
				}
			}
		})
	}
}

// laneCounts are the lane counts of "new bytes" coded by contextStream.
var laneCounts = []uint64{1, 1, 1, 1, 1, 1}

func uint64ToInt(v uint64) int64 { return int64(v) }

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestPatchBomb: a patch of a few KiB that claims terabytes of output is
// refused by the signed length before it starts, and, without that limit,
// stopped by the time limit; either way memory stays bounded.
func TestPatchBomb(t *testing.T) {
	base := make([]byte, 4096)
	bomb := makeBomb(t)
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}

	_, err := Apply(bytes.NewReader(base), 4096, bytes.NewReader(bomb), int64(len(bomb)), io.Discard, Limits{MaxOutput: 1 << 30})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("signed length: %v", err)
	}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err = Apply(bytes.NewReader(base), 4096, bytes.NewReader(bomb), int64(len(bomb)), io.Discard, Limits{MaxPatchRatio: -1, MaxDuration: 20 * time.Millisecond})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("time limit: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}
	// Everything Apply allocated, not only its peak, stays under 32 MiB.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("stopped after %s: %v; allocated %d KiB", time.Since(start), err, alloc>>10)
	if alloc > 32<<20 {
		t.Fatalf("allocated %d MiB", alloc>>20)
	}
}

// makeBomb is a patch of a few KiB claiming 1 TiB of zeros, in segments
// of the largest size.
func makeBomb(t *testing.T) []byte {
	seg := rawSegment{outLen: MaxSegment, records: []record{{op: opInsert, width: 1, length: MaxSegment}}, extra: make([]byte, MaxSegment)}
	segs := []rawSegment{seg, seg, seg, seg}
	return craft(t, Header{BaseLength: 4096, TargetLength: 1 << 40}, segs...)
}

// TestHugeWindowRefused: a stream whose zstd frame asks for a window
// larger than Apply allows is a format error, not an allocation.
func TestHugeWindowRefused(t *testing.T) {
	t.Parallel()
	base := make([]byte, 16)
	enc, err := zstd.NewWriter(nil, zstd.WithWindowSize(256<<20), zstd.WithSingleSegment(false))
	if err != nil {
		t.Fatal(err)
	}
	extra := randomBytes(1000)
	stream := enc.EncodeAll(extra, nil)
	enc.Close()
	h := Header{BaseLength: 16, TargetLength: 1000, TargetSHA256: sha256.Sum256(extra)}
	ctrl := zstdBytes(t, appendRecord(nil, record{op: opInsert, width: 1, length: 1000}))
	p := h.marshal()
	p = append(p, segmentHeader{1000, uint32(len(ctrl)), 0, uint32(len(stream))}.marshal()...)
	p = append(p, ctrl...)
	p = append(p, stream...)
	_, err = applyBytes(base, p, Limits{MaxPatchRatio: -1})
	t.Logf("%v", err)
	if err != nil && !errors.Is(err, ErrFormat) {
		t.Fatalf("error %v", err)
	}
}

func zstdBytes(t testing.TB, b []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// fseCase builds the valid hand-made patch of TestMaliciousPatches (copy
// 1000 bytes, insert "new bytes") with its extra stream replaced by the
// raw FSE stream bytes given.
func fseCase(t *testing.T, h Header, base []byte, extra []byte) []byte {
	t.Helper()
	ctrl := zstdBytes(t, appendRecord(appendRecord(nil, record{op: opCopy, length: 1000}), record{op: opInsert, width: 1, length: 9}))
	p := h.marshal()
	p = append(p, segmentHeader{uint32(h.TargetLength), uint32(len(ctrl)), 0, uint32(len(extra))}.marshal()...)
	p = append(p, ctrl...)
	return append(p, extra...)
}

// TestFSEStreamValid: the hand-made FSE extra stream that the malicious
// cases damage is itself accepted, so each case fails for its own reason.
func TestFSEStreamValid(t *testing.T) {
	t.Parallel()
	base := bytes.Repeat([]byte("0123456789abcdef"), 256)
	target := append(bytes.Clone(base[:1000]), []byte("new bytes")...)
	h := Header{BaseLength: int64(len(base)), BaseSHA256: sha256.Sum256(base), TargetLength: int64(len(target)), TargetSHA256: sha256.Sum256(target)}
	for _, extra := range [][]byte{
		appendFSE(&fseblock.Encoder{}, nil, []byte("new bytes"), nil),
		planesStream(4, 5, "new ", "bytes"),
		zstdBlockStream(t, 9, "new bytes"),
		// Lanes "ne", "w ", "by", "tes": each lane's first byte in
		// bucket 1, the others in bucket 0.
		contextStream(9, 2, 1, laneCounts, "e yes", "nwbt"),
	} {
		p := fseCase(t, h, base, extra)
		if out, err := applyBytes(base, p, Limits{MaxPatchRatio: -1}); err != nil || !bytes.Equal(out, target) {
			t.Fatalf("%q: %v", extra, err)
		}
	}
}

// planesStream is an FSE stream of one Planes block of two spans, each
// class stored: a, then b.
func planesStream(la, lb int, a, b string) []byte {
	data := []byte{2, 2, 0, byte(la), 1, byte(lb)}
	for _, c := range []string{a, b} {
		data = append(data, 0)
		data = binary.BigEndian.AppendUint32(data, uint32(len(c)))
		data = binary.BigEndian.AppendUint32(data, uint32(len(c)))
		data = append(data, c...)
	}
	s := append([]byte(fseMagic), fseblock.Planes)
	s = binary.BigEndian.AppendUint32(s, uint32(la+lb))
	s = binary.BigEndian.AppendUint32(s, uint32(len(data)))
	return append(s, data...)
}

// zstdBlockStream is an FSE stream of one Zstd block claiming rawLen bytes.
func zstdBlockStream(t testing.TB, rawLen int, content string) []byte {
	z := zstdBytes(t, []byte(content))
	s := append([]byte(fseMagic), fseblock.Zstd)
	s = binary.BigEndian.AppendUint32(s, uint32(rawLen))
	s = binary.BigEndian.AppendUint32(s, uint32(len(z)))
	return append(s, z...)
}

// contextStream is an FSE stream of one Context block of rawLen bytes
// and k buckets, each stored: the bytes after a 0 (each lane's first) in
// bucket zeroBucket, the others in bucket 0; counts are the lane counts.
func contextStream(rawLen int, k, zeroBucket byte, counts []uint64, buckets ...string) []byte {
	data := []byte{k, zeroBucket}
	data = append(data, make([]byte, 127)...)
	for _, c := range counts {
		data = binary.AppendUvarint(data, c)
	}
	for _, c := range buckets {
		data = append(data, fseblock.Stored)
		data = binary.BigEndian.AppendUint32(data, uint32(len(c)))
		data = binary.BigEndian.AppendUint32(data, uint32(len(c)))
		data = append(data, c...)
	}
	s := append([]byte(fseMagic), fseblock.Context)
	s = binary.BigEndian.AppendUint32(s, uint32(rawLen))
	s = binary.BigEndian.AppendUint32(s, uint32(len(data)))
	return append(s, data...)
}
