package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// floats returns n float32 weights like a trained layer's.
func floats(r *rand.Rand, n int) []byte {
	b := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(r.NormFloat64()*0.05)))
	}
	return b
}

func roundTrip(t testing.TB, old, nw []byte, opts Options) (*Stats, []byte) {
	t.Helper()
	var patch bytes.Buffer
	st, err := Diff(bytes.NewReader(old), int64(len(old)), bytes.NewReader(nw), int64(len(nw)), &patch, opts)
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	if st.PatchLength != int64(patch.Len()) {
		t.Fatalf("stats say %d bytes, patch has %d", st.PatchLength, patch.Len())
	}
	var out bytes.Buffer
	h, err := Apply(bytes.NewReader(old), int64(len(old)), bytes.NewReader(patch.Bytes()), int64(patch.Len()), &out, Limits{MaxOutput: int64(len(nw)), MaxPatchRatio: -1, VerifyBase: true})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if !bytes.Equal(out.Bytes(), nw) {
		t.Fatalf("round trip differs")
	}
	if bs := sha256.Sum256(old); h.TargetLength != int64(len(nw)) || h.TargetSHA256 != sha256.Sum256(nw) || !h.BaseIs(int64(len(old)), bs[:]) {
		t.Fatalf("header %+v", h)
	}
	return st, patch.Bytes()
}

func TestRoundTrips(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	const n = 1 << 20 // weights: 4 MiB
	base := floats(r, n)

	tail := bytes.Clone(base)
	copy(tail[len(tail)-len(tail)/16:], floats(r, n/64))

	fine := make([]byte, len(base))
	for i := 0; i < n; i++ {
		f := math.Float32frombits(binary.LittleEndian.Uint32(base[4*i:]))
		f *= float32(1 + r.NormFloat64()*0.001)
		binary.LittleEndian.PutUint32(fine[4*i:], math.Float32bits(f))
	}

	// int8 tensors of 64 KiB: some rewritten, some inserted.
	i8 := make([]byte, 64<<16)
	for i := range i8 {
		i8[i] = byte(int8(max(-127, min(127, r.NormFloat64()*40))))
	}
	var i8new []byte
	for blk := 0; blk < 64; blk++ {
		b := i8[blk<<16 : (blk+1)<<16]
		switch {
		case blk%9 == 4:
			nb := make([]byte, len(b))
			for i := range nb {
				nb[i] = byte(r.IntN(256))
			}
			b = nb
		case blk%13 == 7:
			ins := make([]byte, 3000+blk)
			for i := range ins {
				ins[i] = byte(r.IntN(256))
			}
			i8new = append(i8new, ins...)
		}
		i8new = append(i8new, b...)
	}

	random := make([]byte, len(base))
	for i := range random {
		random[i] = byte(r.Uint32())
	}

	for _, c := range []struct {
		name     string
		old, new []byte
		maxRatio float64 // patch / new at most
	}{
		{"tail replaced", base, tail, 0.075},
		{"fine-tune", base, fine, 0.50},
		{"int8 rewritten and inserted", i8, i8new, 0.20},
		{"identical", base, base, 0.001},
		{"different", base, random, 1.01},
		{"empty to empty", nil, nil, 0},
		{"empty to data", nil, base[:1000], 2},
		{"data to empty", base[:1000], nil, 0},
		{"tiny", []byte{1, 2, 3}, []byte{1, 2, 4, 5, 6, 7, 8}, 0},
		{"one byte", []byte{9}, []byte{9}, 0},
		{"shorter", base, base[:len(base)/3+1], 0.01},
		{"longer", base[:len(base)/3+1], base, 0.70},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, patch := roundTrip(t, c.old, c.new, Options{})
			ratio := float64(len(patch)) / float64(max(1, len(c.new)))
			t.Logf("%d -> %d bytes: patch %d (%.2f%%), %+v", len(c.old), len(c.new), len(patch), 100*ratio, *st)
			if c.maxRatio > 0 && ratio > c.maxRatio {
				t.Errorf("patch is %.1f%% of the file, want at most %.1f%%", 100*ratio, 100*c.maxRatio)
			}
		})
	}

	// The bounded mode gives the same output with small chunks.
	t.Run("chunked", func(t *testing.T) {
		st, _ := roundTrip(t, i8, i8new, Options{ChunkSize: 1 << 20})
		if !st.Chunked {
			t.Fatal("not chunked")
		}
	})
}

func TestApplyRejectsWrongBase(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	old := floats(r, 1<<14)
	nw := bytes.Clone(old)
	copy(nw[100:], floats(r, 100))
	var patch bytes.Buffer
	if _, err := Diff(bytes.NewReader(old), int64(len(old)), bytes.NewReader(nw), int64(len(nw)), &patch, Options{}); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(old)
	bad[len(bad)/2] ^= 1
	var out bytes.Buffer
	_, err := Apply(bytes.NewReader(bad), int64(len(bad)), bytes.NewReader(patch.Bytes()), int64(patch.Len()), &out, Limits{VerifyBase: true})
	if !errors.Is(err, ErrBase) {
		t.Fatalf("verified base: %v", err)
	}
	out.Reset()
	_, err = Apply(bytes.NewReader(bad), int64(len(bad)), bytes.NewReader(patch.Bytes()), int64(patch.Len()), &out, Limits{})
	if !errors.Is(err, ErrTarget) {
		t.Fatalf("unverified base: %v", err)
	}
	_, err = Apply(bytes.NewReader(bad[1:]), int64(len(bad)-1), bytes.NewReader(patch.Bytes()), int64(patch.Len()), &out, Limits{})
	if !errors.Is(err, ErrBase) {
		t.Fatalf("shorter base: %v", err)
	}
}

// TestCombineMatchesReference: the fused unshuffle-and-decode of Apply
// agrees with unshuffle followed by the plain decoders, for every
// operation and width.
func TestCombineMatchesReference(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	for _, op := range []uint8{opInsert, opXOR, opSub} {
		for _, w := range []int{1, 2, 4} {
			for _, n := range []int{0, 4, 8, 1000, ShuffleBlock} {
				base, src := make([]byte, n), make([]byte, n)
				for i := range base {
					base[i], src[i] = byte(r.Uint32()), byte(r.Uint32())
				}
				want := bytes.Clone(base)
				d := make([]byte, n)
				unshuffle(d, src, w)
				switch op {
				case opInsert:
					copy(want, d)
				case opXOR:
					decodeXOR(want, d, want)
				case opSub:
					decodeSub(want, d, want, w)
				}
				got := bytes.Clone(base)
				combine(got, src, op, w)
				if !bytes.Equal(got, want) {
					t.Fatalf("op %d width %d length %d differs", op, w, n)
				}
			}
		}
	}
}

// int8Weights returns n int8 weights round(z*40): no byte string repeats,
// but the values are far from uniform, which order-0 coding exploits.
func int8Weights(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(int8(max(-127, min(127, r.NormFloat64()*40))))
	}
	return b
}

// TestFSEStreams: a stream whose bytes never repeat but are skewed (new
// int8 tensors) is FSE-coded, smaller than zstd would make it, and round
// trips; Apply tells the coding from the stream's first bytes.
func TestFSEStreams(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 10))
	old := int8Weights(r, 2<<20)
	nw := bytes.Clone(old)
	copy(nw[1<<20:], int8Weights(r, 600<<10)) // 600 KiB of new weights
	_, patch := roundTrip(t, old, nw, Options{})
	if !bytes.Contains(patch, []byte(fseMagic)) {
		t.Fatal("no FSE stream in the patch")
	}
	var zsize int
	dump := func(c, d, e []byte) { zsize = len(zstdBytes(t, e)) }
	var p bytes.Buffer
	if _, err := Diff(bytes.NewReader(old), int64(len(old)), bytes.NewReader(nw), int64(len(nw)), &p, Options{dump: dump}); err != nil {
		t.Fatal(err)
	}
	t.Logf("patch %d bytes; the extra stream alone would be %d bytes with zstd", len(patch), zsize)
	if len(patch) >= zsize {
		t.Fatalf("FSE did not beat zstd: patch %d, zstd extra %d", len(patch), zsize)
	}
}
