package delta

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// fuzzBase is the base every fuzzed patch is applied to.
var fuzzBase = bytes.Repeat([]byte("weights:0123456789abcdef"), 400)

// FuzzApply: any bytes as a patch give a clean error wrapping one of the
// package's errors, or an output of exactly the length and SHA-256 the
// header promises; never a panic, never more output than allowed.
func FuzzApply(f *testing.F) {
	nw := append(bytes.Clone(fuzzBase[:5000]), []byte("a retrained head")...)
	nw = append(nw, fuzzBase[7000:]...)
	// New int8 weights after a copied prefix: the extra stream is FSE-coded.
	withWeights := append(bytes.Clone(fuzzBase[:2000]), int8Weights(rand.New(rand.NewPCG(1, 1)), 6000)...)
	// Text between new int8 weights, from nothing: Zstd and FSE blocks in
	// one FSE stream.
	mixed := append(structuredText(rand.New(rand.NewPCG(2, 2)), 3000), int8Weights(rand.New(rand.NewPCG(3, 3)), 6000)...)
	// New fp16 weights of channels with scales of their own: Context
	// blocks.
	channels := channelWeights(rand.New(rand.NewPCG(4, 4)), 12<<10)
	for _, pair := range [][2][]byte{{fuzzBase, nw}, {fuzzBase, nil}, {nil, []byte("x")}, {fuzzBase, fuzzBase}, {fuzzBase, withWeights}, {nil, mixed}, {nil, channels}} {
		var p bytes.Buffer
		if _, err := Diff(bytes.NewReader(pair[0]), int64(len(pair[0])), bytes.NewReader(pair[1]), int64(len(pair[1])), &p, Options{}); err != nil {
			f.Fatal(err)
		}
		f.Add(p.Bytes(), len(pair[0]) == 0)
	}
	f.Add([]byte(Magic), false)
	f.Add(make([]byte, HeaderSize+SegmentHeaderSize), false)
	const maxOut = 1 << 20
	f.Fuzz(func(t *testing.T, patch []byte, emptyBase bool) {
		base := fuzzBase
		if emptyBase {
			base = nil
		}
		cw := &countingWriter{h: sha256.New()}
		h, err := Apply(bytes.NewReader(base), int64(len(base)), bytes.NewReader(patch), int64(len(patch)), cw,
			Limits{MaxOutput: maxOut, MaxPatchRatio: -1, MaxDuration: time.Second})
		if cw.n > maxOut {
			t.Fatalf("wrote %d bytes, limit %d", cw.n, maxOut)
		}
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrBase) && !errors.Is(err, ErrTarget) && !errors.Is(err, ErrLimit) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if cw.n != h.TargetLength || [32]byte(cw.h.Sum(nil)) != h.TargetSHA256 {
			t.Fatalf("accepted output of %d bytes that does not match the header", cw.n)
		}
	})
}

// FuzzRoundTrip: Diff then Apply gives back the new file, for any pair.
func FuzzRoundTrip(f *testing.F) {
	f.Add(fuzzBase[:300], append(bytes.Clone(fuzzBase[:100]), fuzzBase[150:300]...))
	f.Add([]byte{}, []byte{1, 2, 3})
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 0}, []byte{0, 0, 0, 0, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, old, nw []byte) {
		var p bytes.Buffer
		if _, err := Diff(bytes.NewReader(old), int64(len(old)), bytes.NewReader(nw), int64(len(nw)), &p, Options{ChunkSize: 1 << 16}); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := Apply(bytes.NewReader(old), int64(len(old)), bytes.NewReader(p.Bytes()), int64(p.Len()), &out, Limits{MaxPatchRatio: -1, VerifyBase: true}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), nw) {
			t.Fatal("round trip differs")
		}
	})
}

type countingWriter struct {
	n int64
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	c.h.Write(p)
	return len(p), nil
}
