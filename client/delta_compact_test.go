package client_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

// compactPatch is a patch in delta's compact form (package
// delta/internal/head): the 8-byte prefixes of the hashes, packed
// records, the control and extra streams stored as is.
func compactPatch(baseLen int64, baseSum [32]byte, targetLen int64, targetSum [32]byte, ctrl, extra []byte) []byte {
	b := []byte{0xed, 0xdc, 1 | 4}
	b = binary.AppendUvarint(b, uint64(baseLen))
	b = binary.AppendVarint(b, targetLen-baseLen)
	b = append(append(b, baseSum[:8]...), targetSum[:8]...)
	b = binary.AppendUvarint(binary.AppendUvarint(b, uint64(len(ctrl))), 0)
	return append(append(b, ctrl...), extra...)
}

// packedCopy is a packed COPY record.
func packedCopy(length, offset int64) []byte {
	return binary.AppendUvarint(binary.AppendUvarint(nil, uint64(length)<<4), uint64(offset))
}

// publishReordered publishes 1.1.0 whose model.bin is 1.0.0's with its
// halves swapped (a reordered bundle): its patch is in the compact form.
func publishReordered(t *testing.T, r *testrepo.Repo) (base, target []byte) {
	t.Helper()
	base = weightsOf(t, "1.0.0")
	target = append(bytes.Clone(base[len(base)/2:]), base[:len(base)/2]...)
	r.PublishWithDeltas(t, model, "1.1.0", map[string][]byte{"model.bin": target, "labels.txt": labels(seedOf("1.1.0"))}, targets.Compat{}, []string{"1.0.0"})
	patch, err := os.ReadFile(r.TargetFile(t, targets.DeltaPath(model, "1.1.0", "1.0.0", "model.bin")))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(patch, []byte{0xed, 0xdc}) || len(patch) > 64 {
		t.Fatalf("the published patch (%d bytes, %x...) is not a compact one", len(patch), patch[:min(8, len(patch))])
	}
	return base, target
}

// TestDeltaCompactPatch: a compact patch (8-byte hash prefixes) that the
// repository published is applied; the device checks the output against
// the signed SHA-256, not the prefix.
func TestDeltaCompactPatch(t *testing.T) {
	t.Parallel()
	r, _, d := onDeltaV1(t, fastOpts())
	publishReordered(t, r)
	res := d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
	if ff := fileFetch(t, res, "model.bin"); ff.Method != client.MethodDelta || ff.Base != "1.0.0" || ff.PatchBytes > 64 {
		t.Fatalf("model.bin: %+v, want rebuilt from a compact patch", ff)
	}
}

// TestDeltaHostileCompactPatches: compact patches signed by the targets
// key that name the signed hashes' prefixes but rebuild another file, or
// name another base, or meet a changed base, fall back to the full file.
func TestDeltaHostileCompactPatches(t *testing.T) {
	t.Parallel()
	tp := targets.DeltaPath(model, "1.1.0", "1.0.0", "model.bin")
	for _, tc := range []struct {
		name   string
		patch  func(base, target []byte) []byte
		tamper bool // change the installed base
		code   client.Code
		want   string
	}{
		// The prefixes are the signed hashes', the output is the base: the
		// signed SHA-256 Apply was given refuses it (the patch's fault:
		// the re-hashed base is intact).
		{"prefixes right, output wrong", func(base, target []byte) []byte {
			return compactPatch(int64(len(base)), sha256.Sum256(base), int64(len(target)), sha256.Sum256(target), packedCopy(int64(len(base)), 0), nil)
		}, false, client.DeltaFailed, "does not match the target"},
		// Refused by its header, before anything is written.
		{"made for another base", func(base, target []byte) []byte {
			return compactPatch(int64(len(base)), sha256.Sum256(target), int64(len(target)), sha256.Sum256(target), packedCopy(int64(len(base)), 0), nil)
		}, false, client.DeltaFailed, "made for another base file"},
		{"rebuilds another file", func(base, target []byte) []byte {
			return compactPatch(int64(len(base)), sha256.Sum256(base), int64(len(target)), sha256.Sum256(base), packedCopy(int64(len(base)), 0), nil)
		}, false, client.DeltaFailed, "rebuilds another file"},
		// The genuine patch on a base changed in place: HASH_MISMATCH.
		{"base changed", nil, true, client.HashMismatch, "re-hashed, the installed base"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, srv, d := onDeltaV1(t, fastOpts())
			base, target := publishReordered(t, r)
			if tc.patch != nil {
				f := forgeDeltaRepo(t, r)
				f.setTargetBytes(tp, tc.patch(base, target))
				f.publishTrusted(r)
				srv.set(dirHandler(f.dir))
			}
			if tc.tamper {
				flipByte(t, d.path("models", model, "1.0.0", "model.bin"), weightsSize/3)
			}
			srv.reset()
			since := len(d.events())
			res := d.mustUpdate("1.1.0")
			wantFallback(t, d, res, since, "1.0.0", tc.code)
			if msg := fileFetch(t, res, "model.bin").Message; !strings.Contains(msg, tc.want) {
				t.Fatalf("reason %q, want it to say %q", msg, tc.want)
			}
			if staged := d.stagedFiles(); len(staged) != 0 {
				t.Fatalf("staging holds %v", staged)
			}
		})
	}
}
