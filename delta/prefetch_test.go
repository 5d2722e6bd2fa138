package delta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// prefetchPair is a 14 MiB target whose inserted bytes (4 bits each of
// entropy: FSE streams) fill several 4 MiB segments, and its patch; made
// once for the tests that share it.
func prefetchPair(t *testing.T) (base, target, patch []byte) {
	t.Helper()
	p := prefetchPairOnce()
	if p.err != nil {
		t.Fatal(p.err)
	}
	return p.base, p.target, p.patch
}

type pairBytes struct {
	base, target, patch []byte
	err                 error
}

var prefetchPairOnce = sync.OnceValue(func() (p pairBytes) {
	r := rand.New(rand.NewPCG(41, 42))
	base := floats(r, 1<<20)
	target := make([]byte, 14<<20)
	for i := range target {
		target[i] = byte(r.IntN(16))
	}
	copy(target[5<<20:], base) // a copy in the middle: a segment of copies
	var patch bytes.Buffer
	st, err := Diff(bytes.NewReader(base), int64(len(base)), bytes.NewReader(target), int64(len(target)), &patch, Options{})
	if err == nil && st.Segments < 3 {
		err = fmt.Errorf("%d segments: the test needs three", st.Segments)
	}
	return pairBytes{base, target, patch.Bytes(), err}
})

// segmentOffsets returns the patch offset of each segment header.
func segmentOffsets(patch []byte) []int {
	var offs []int
	for off := HeaderSize; off+SegmentHeaderSize <= len(patch); {
		offs = append(offs, off)
		sh := parseSegmentHeader(patch[off:])
		off += SegmentHeaderSize + int(sh.ctrlLen+sh.diffLen+sh.extraLen)
	}
	return offs
}

// Every segment but the first has its FSE streams started while the one
// before it is rebuilt, and the target comes out right.
func TestApplyPrefetchesNextSegment(t *testing.T) {
	t.Parallel()
	base, target, patch := prefetchPair(t)
	var started int
	var out bytes.Buffer
	if _, err := apply(bytes.NewReader(base), int64(len(base)), bytes.NewReader(patch), int64(len(patch)), &out, Limits{}, &applyHooks{prefetch: func() { started++ }}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), target) {
		t.Fatal("wrong output")
	}
	var want int
	for _, off := range segmentOffsets(patch)[1:] {
		sh := parseSegmentHeader(patch[off:])
		s := off + SegmentHeaderSize + int(sh.ctrlLen)
		for _, n := range []uint32{sh.diffLen, sh.extraLen} {
			if n >= 4 && string(patch[s:s+4]) == fseMagic {
				want++
			}
			s += int(n)
		}
	}
	if want < 2 || started != want {
		t.Fatalf("%d streams started early, the later segments have %d FSE streams", started, want)
	}
}

// A prefetch is a guess on bytes not yet checked: what is wrong in the
// next segment is still reported when Apply reaches it, a failure of the
// current segment stops the streams started early, and no goroutine is
// left behind.
func TestApplyPrefetchFaults(t *testing.T) {
	t.Parallel()
	base, _, patch := prefetchPair(t)
	offs := segmentOffsets(patch)
	second := offs[1]
	sh := parseSegmentHeader(patch[second:])
	corruptStream := bytes.Clone(patch)
	s := second + SegmentHeaderSize + int(sh.ctrlLen)
	if sh.diffLen < 4 {
		s += int(sh.diffLen)
	}
	if string(corruptStream[s:s+4]) != fseMagic {
		t.Fatal("the second segment's stream is not an FSE stream")
	}
	corruptStream[s+4] = 0xEE // no such block mode
	pastEnd := bytes.Clone(patch)
	binary.BigEndian.PutUint32(pastEnd[second+12:], 1<<31) // extra stream past the patch's end
	for _, c := range []struct {
		name     string
		patch    []byte
		hooks    applyHooks
		want     error
		contains string
		started  bool
	}{
		{"corrupt FSE stream in the next segment", corruptStream, applyHooks{}, ErrFormat, "FSE stream", true},
		{"next segment's streams past the end", pastEnd, applyHooks{}, ErrFormat, "truncated", false},
		{"the current segment fails", patch, applyHooks{record: func() { panic("injected") }}, ErrInternal, "injected", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			var started bool
			hooks := c.hooks
			hooks.prefetch = func() { started = true }
			_, err := apply(bytes.NewReader(base), int64(len(base)), bytes.NewReader(c.patch), int64(len(c.patch)), &bytes.Buffer{}, Limits{}, &hooks)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.contains) {
				t.Fatalf("error %v, want %v with %q", err, c.want, c.contains)
			}
			if started != c.started {
				t.Fatalf("a stream started early: %v, want %v", started, c.started)
			}
			waitGoroutines(t, before)
		})
	}
}
