package head

import (
	"bytes"
	"errors"
	"testing"
)

func sample(compact bool) *Header {
	h := &Header{Compact: compact, BaseLength: 4326731, TargetLength: 4326731 + 1184, Streams: [3]int64{18, 8, 3}}
	for i := range h.BaseSHA256 {
		h.BaseSHA256[i], h.TargetSHA256[i] = byte(i), byte(100+i)
	}
	if compact {
		h.Flags = RawControl | RawExtra
		clear(h.BaseSHA256[PrefixLen:])
		clear(h.TargetSHA256[PrefixLen:])
	}
	return h
}

// TestRoundTrip: both forms parse back to what was written.
func TestRoundTrip(t *testing.T) {
	for _, compact := range []bool{false, true} {
		h := sample(compact)
		b := h.Append(nil)
		patchLen := int64(len(b))
		if compact {
			patchLen += h.Streams[0] + h.Streams[1] + h.Streams[2]
			if len(b) != 2+1+4+2+16+1+1 {
				t.Fatalf("compact header of %d bytes", len(b))
			}
		}
		got, err := Parse(b, patchLen, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		h.Len, h.HashPrefix = len(b), 32
		if compact {
			h.HashPrefix = PrefixLen
		} else {
			h.Streams = [3]int64{}
		}
		if *got != *h {
			t.Fatalf("compact %v: got %+v, want %+v", compact, got, h)
		}
	}
}

// FuzzParse: any bytes give a header whose lengths hold together or an
// ErrFormat error, never a panic; a compact header writes back to bytes
// that parse the same.
func FuzzParse(f *testing.F) {
	for _, compact := range []bool{false, true} {
		b := sample(compact).Append(nil)
		f.Add(b, int64(len(b)+29))
	}
	f.Add([]byte(CompactMagic), int64(2))
	f.Fuzz(func(t *testing.T, b []byte, patchLen int64) {
		patchLen = max(patchLen, int64(len(b)))
		h, err := Parse(b, patchLen, 64<<20)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if h.Len > len(b) || h.BaseLength < 0 || h.TargetLength < 0 || h.BaseLength > 1<<62 || h.TargetLength > 1<<62 {
			t.Fatalf("header %+v from %d bytes", h, len(b))
		}
		if !h.Compact {
			return
		}
		if h.TargetLength > 64<<20 || h.Streams[0] < 0 || h.Streams[1] < 0 || h.Streams[2] < 0 ||
			int64(h.Len)+h.Streams[0]+h.Streams[1]+h.Streams[2] != patchLen {
			t.Fatalf("compact header %+v for a patch of %d bytes", h, patchLen)
		}
		again := h.Append(nil)
		h2, err := Parse(again, int64(len(again))+h.Streams[0]+h.Streams[1]+h.Streams[2], 64<<20)
		if err != nil || h2.BaseLength != h.BaseLength || h2.TargetLength != h.TargetLength || h2.Streams != h.Streams || h2.Flags != h.Flags ||
			!bytes.Equal(h2.BaseSHA256[:], h.BaseSHA256[:]) || !bytes.Equal(h2.TargetSHA256[:], h.TargetSHA256[:]) {
			t.Fatalf("written again: %+v, %v; want %+v", h2, err, h)
		}
	})
}

// TestNames: the full form compares whole hashes, the compact form its
// prefix; a prefix length no form has (0: a Header not from Parse)
// compares the whole hash, so that a zero HashPrefix cannot match any
// hash; a hash that is not 32 bytes never matches.
func TestNames(t *testing.T) {
	var h [32]byte
	for i := range h {
		h[i] = byte(i + 1)
	}
	tail := h
	tail[31] ^= 1
	for _, c := range []struct {
		n    int
		sum  []byte
		want bool
	}{
		{32, h[:], true},
		{32, tail[:], false},
		{PrefixLen, tail[:], true},
		{0, tail[:], false},
		{0, h[:], true},
		{-1, tail[:], false},
		{33, tail[:], false},
		{PrefixLen, h[:PrefixLen], false},
		{32, nil, false},
	} {
		if got := Names(h, c.n, c.sum); got != c.want {
			t.Errorf("Names(prefix %d, %x) = %v, want %v", c.n, c.sum, got, c.want)
		}
	}
}
