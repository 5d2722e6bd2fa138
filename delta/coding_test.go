package delta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// structuredText is model metadata as converters write it: a repeated
// record layout with changing names and numbers, like a flatbuffer or
// protobuf graph dumped as text, or an asset bundle's JS loader.
func structuredText(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	ops := []string{"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "RESHAPE", "CONCATENATION"}
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "{\"name\":\"block_%d/%s\",\"shape\":[1,%d,%d,%d],\"dtype\":\"float32\",\"offset\":%d},\n",
			i, ops[r.IntN(len(ops))], 1<<r.IntN(8), 1<<r.IntN(8), 8*r.IntN(64), r.IntN(1<<24))
	}
	return b.Bytes()[:n]
}

func zstdBest(t testing.TB, b []byte) int {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(encoderWindow))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return len(enc.EncodeAll(b, nil))
}

// TestNewBytesNeverWorseThanZstd: new data (nothing to match in the old
// file) of mixed kinds, structured text between new float weights, codes
// no larger than zstd's best level makes of the new file alone. The
// order-0 estimate alone shuffled the text by byte plane, where its
// repeats were lost, and lost to zstd by 8% (87.8% against 84.6% of a
// real tflite and JS asset bundle).
func TestNewBytesNeverWorseThanZstd(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 12))
	oldWeights := floats(r, 256<<10)
	var nw []byte
	nw = append(nw, structuredText(r, 300<<10)...)
	nw = append(nw, floats(r, 128<<10)...)
	nw = append(nw, structuredText(r, 100<<10)...)
	nw = append(nw, oldWeights...)
	for _, old := range [][]byte{nil, oldWeights} {
		// With the old weights, only the bytes before them are new.
		z := zstdBest(t, nw[:len(nw)-len(old)])
		_, patch := roundTrip(t, old, nw, Options{})
		t.Logf("old %d bytes: patch %d, zstd of the new bytes %d", len(old), len(patch), z)
		if len(patch) > z {
			t.Errorf("old %d bytes: patch %d bytes, larger than zstd's %d of the new bytes alone", len(old), len(patch), z)
		}
	}
}

// v1Pair is the pair of testdata/v1.patch, written by the format-1 code
// before FSE streams had Planes, Huffman, Packed and Zstd blocks: new
// int8 weights (an INSERT), a copied run, weights moved a little (a
// SUB-coded diff stream) and a copied tail.
func v1Pair() (old, nw []byte) {
	r := rand.New(rand.NewPCG(21, 22))
	old = floats(r, 16<<10)
	nw = append(int8Weights(r, 4<<10), old[:16<<10]...)
	for i := 16 << 10; i < 20<<10; i += 4 {
		f := math.Float32frombits(binary.LittleEndian.Uint32(old[i:]))
		nw = binary.LittleEndian.AppendUint32(nw, math.Float32bits(f*float32(1+r.NormFloat64()*0.001)))
	}
	return old, append(nw, old[20<<10:]...)
}

// TestOldPatchStillApplies: a patch written before the FSE stream's new
// block modes (testdata/v1.patch) applies, and today's Diff of the same
// pair is no larger.
func TestOldPatchStillApplies(t *testing.T) {
	t.Parallel()
	old, nw := v1Pair()
	p, err := os.ReadFile("testdata/v1.patch")
	if err != nil {
		t.Fatal(err)
	}
	out, err := applyBytes(old, p, Limits{VerifyBase: true})
	if err != nil || !bytes.Equal(out, nw) {
		t.Fatalf("old patch: %v", err)
	}
	if _, now := roundTrip(t, old, nw, Options{}); len(now) > len(p) {
		t.Errorf("today's patch %d bytes, the old one %d", len(now), len(p))
	}
}
