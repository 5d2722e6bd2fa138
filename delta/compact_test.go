package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/delta/internal/head"
)

// bundle concatenates members, as an Emscripten asset bundle does.
func bundle(members ...[]byte) []byte { return bytes.Join(members, nil) }

// reorderedBundle is a bundle of n members of random bytes (tflite-like
// sizes, one short text member) and the same members in reverse order.
func reorderedBundle(seed uint64, n int) (old, nw []byte) {
	r := rand.New(rand.NewPCG(seed, seed))
	members := make([][]byte, n)
	for i := range members {
		m := make([]byte, 20_000+r.IntN(200_000))
		if i == n/2 {
			m = []byte("Left\nRight\n")
		}
		for j := range m {
			m[j] = byte(r.Uint32())
		}
		members[i] = m
	}
	old = bundle(members...)
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		members[i], members[j] = members[j], members[i]
	}
	return old, bundle(members...)
}

// TestCompactRoundTrips: small patches are written in the compact form,
// apply, and are a fraction of the full form's size; patches with more
// stream bytes than compactStreams keep the full form.
func TestCompactRoundTrips(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	base := floats(r, 1<<18) // 1 MiB
	old, reordered := reorderedBundle(5, 10)
	insert := append(append(bytes.Clone(base[:300_000]), "a new layer name"...), base[300_000:]...)
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	for _, c := range []struct {
		name     string
		old, new []byte
		compact  bool
		maxLen   int
	}{
		{"identical", base, base, true, 30},
		{"reorder", old, reordered, true, 120},
		{"tiny insert", base, insert, true, 60},
		{"empty old", nil, []byte("x"), true, 30},
		{"empty new", base, nil, true, 30},
		{"both empty", nil, nil, true, 30},
		{"new bytes beyond the compact form", nil, random, false, len(random) + 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, patch := roundTrip(t, c.old, c.new, Options{})
			if got := bytes.HasPrefix(patch, []byte(head.CompactMagic)); got != c.compact {
				t.Fatalf("compact form: %v, want %v (%d bytes, %+v)", got, c.compact, len(patch), *st)
			}
			if len(patch) > c.maxLen {
				t.Errorf("patch of %d bytes, want at most %d", len(patch), c.maxLen)
			}
			h, err := ReadHeader(bytes.NewReader(patch), int64(len(patch)))
			if err != nil {
				t.Fatal(err)
			}
			bs, ts := sha256.Sum256(c.old), sha256.Sum256(c.new)
			want := 32
			if c.compact {
				want = head.PrefixLen
			}
			if h.HashPrefix != want || !h.BaseIs(int64(len(c.old)), bs[:]) || !h.TargetIs(int64(len(c.new)), ts[:]) ||
				bs != ts && (h.BaseIs(int64(len(c.old)), ts[:]) || h.TargetIs(int64(len(c.new)), bs[:])) || h.TargetIs(int64(len(c.new)), ts[:8]) {
				t.Fatalf("header %+v", h)
			}
			// With the caller's whole hashes too.
			out, err := applyBytes(c.old, patch, Limits{MaxPatchRatio: -1, BaseSHA256: bs[:], TargetSHA256: ts[:]})
			if err != nil || !bytes.Equal(out, c.new) {
				t.Fatalf("apply with the whole hashes: %v", err)
			}
		})
	}
}

// TestCopiesRunOnToMaxSegment: a patch of copies alone past the 16 MiB
// Diff cuts segments at stays one segment (and, small, compact).
func TestCopiesRunOnToMaxSegment(t *testing.T) {
	t.Parallel()
	a := bytes.Repeat([]byte{1}, 9<<20)
	for i := range a {
		a[i] = byte(uint32(i) * 2654435761 >> 13) // uint32: the same low bits, and 32-bit platforms compile it
	}
	b := bytes.Repeat([]byte{7, 9, 11}, 3<<20)
	for i := range b {
		b[i] ^= byte(i >> 7)
	}
	st, patch := roundTrip(t, bundle(a, b), bundle(b, a), Options{})
	if st.Segments != 1 || !bytes.HasPrefix(patch, []byte(head.CompactMagic)) {
		t.Fatalf("%d segments, %d bytes: want one compact segment", st.Segments, len(patch))
	}
}

// packed is control bytes of these varints.
func packed(v ...uint64) (b []byte) {
	for _, x := range v {
		b = binary.AppendUvarint(b, x)
	}
	return b
}

// compactPatch is a valid compact patch by hand: records packed, the
// control and extra streams stored as is, the diff stream zstd.
func compactPatch(t testing.TB, base, target []byte, ctrl, diff, extra []byte) []byte {
	t.Helper()
	h := head.Header{Compact: true, Flags: head.RawControl | head.RawExtra, BaseLength: int64(len(base)), TargetLength: int64(len(target)),
		BaseSHA256: sha256.Sum256(base), TargetSHA256: sha256.Sum256(target), Streams: [3]int64{int64(len(ctrl)), int64(len(diff))}}
	return append(append(append(h.Append(nil), ctrl...), diff...), extra...)
}

// TestMaliciousCompactPatches: every malformed compact patch is refused
// with a typed error, before anything is written when the header says so.
func TestMaliciousCompactPatches(t *testing.T) {
	t.Parallel()
	base := bytes.Repeat([]byte("0123456789abcdef"), 256) // 4 KiB
	target := append(bytes.Clone(base[1000:2000]), "new bytes"...)
	other := append(bytes.Clone(base[1000:2000]), "old bytes"...)
	ctrl := pack(appendRecord(appendRecord(nil, record{op: opCopy, length: 1000, offset: 1000}), record{op: opInsert, width: 1, length: 9}))
	valid := compactPatch(t, base, target, ctrl, nil, []byte("new bytes"))
	if out, err := applyBytes(base, valid, Limits{}); err != nil || !bytes.Equal(out, target) {
		t.Fatalf("the hand-made compact patch does not work: %v", err)
	}
	bs, ts, osum := sha256.Sum256(base), sha256.Sum256(target), sha256.Sum256(other)
	// A whole hash with the target's prefix, not the target's.
	collision := ts
	collision[31] ^= 1
	// A patch whose header names other's prefix but rebuilds target.
	wrongPrefix := compactPatch(t, base, other, ctrl, nil, []byte("new bytes"))
	edit := func(f func(h *head.Header)) []byte {
		h, err := head.Parse(valid, int64(len(valid)), MaxSegment)
		if err != nil {
			t.Fatal(err)
		}
		rest := valid[h.Len:]
		f(h)
		return append(h.Append(nil), rest...)
	}
	noRatio := Limits{MaxPatchRatio: -1}
	for _, c := range []struct {
		name  string
		patch []byte
		lim   Limits
		want  error
		wrote bool // may have written output before failing
	}{
		{"trailing byte", append(bytes.Clone(valid), 0), noRatio, ErrFormat, true},
		{"unknown flag", func() []byte { p := bytes.Clone(valid); p[2] |= 8; return p }(), noRatio, ErrFormat, false},
		{"high flag", func() []byte { p := bytes.Clone(valid); p[2] |= 0x80; return p }(), noRatio, ErrFormat, false},
		{"base length varint overflows", append([]byte(head.CompactMagic+"\x05"), bytes.Repeat([]byte{0xff}, 11)...), noRatio, ErrFormat, false},
		{"base length differs", edit(func(h *head.Header) { h.BaseLength++; h.TargetLength++ }), noRatio, ErrBase, false},
		{"target past MaxSegment", edit(func(h *head.Header) { h.TargetLength = MaxSegment + 1 }), noRatio, ErrFormat, false},
		{"target past MaxOutput", valid, Limits{MaxPatchRatio: -1, MaxOutput: 100}, ErrLimit, false},
		{"negative target", edit(func(h *head.Header) { h.TargetLength = -1 }), noRatio, ErrFormat, false},
		{"control length past the end", edit(func(h *head.Header) { h.Streams[0] = 1 << 20 }), noRatio, ErrFormat, false},
		{"diff length past the end", edit(func(h *head.Header) { h.Streams[1] = int64(len(ctrl)) + 10 }), noRatio, ErrFormat, false},
		{"control stream short", edit(func(h *head.Header) { h.Streams[0]-- }), noRatio, ErrFormat, true},
		{"control stream not zstd", edit(func(h *head.Header) { h.Flags &^= head.RawControl }), noRatio, ErrFormat, false},
		{"extra stream not zstd", edit(func(h *head.Header) { h.Flags &^= head.RawExtra }), noRatio, ErrFormat, true},
		{"target prefix differs", wrongPrefix, noRatio, ErrTarget, true},
		{"base prefix differs, wrong output (VerifyBase)", edit(func(h *head.Header) { h.BaseSHA256[0] ^= 1; h.TargetSHA256[0] ^= 1 }), Limits{MaxPatchRatio: -1, VerifyBase: true}, ErrBase, true},
		{"base prefix not the caller's", edit(func(h *head.Header) { h.BaseSHA256[0] ^= 1 }), Limits{MaxPatchRatio: -1, BaseSHA256: bs[:]}, ErrBase, false},
		{"target prefix not the caller's", valid, Limits{MaxPatchRatio: -1, TargetSHA256: osum[:]}, ErrTarget, false},
		{"caller's hash not 32 bytes", valid, Limits{MaxPatchRatio: -1, TargetSHA256: ts[:8]}, ErrTarget, false},
		// The prefix is the caller's, the output is not: the whole hash
		// the caller gave decides (a forged prefix collision).
		{"output differs from the caller's hash, not from the prefix", valid, Limits{MaxPatchRatio: -1, TargetSHA256: collision[:]}, ErrTarget, true},
		{"output differs from the header and the caller", compactPatch(t, base, target, ctrl, nil, []byte("old bytes")), Limits{MaxPatchRatio: -1, TargetSHA256: ts[:]}, ErrTarget, true},
		{"COPY with a width", compactPatch(t, base, target, packed(1009<<4|1<<2, 0), nil, nil), noRatio, ErrFormat, false},
		{"width code 3", compactPatch(t, base, target, packed(1009<<4|3<<2|opXOR, 0), nil, nil), noRatio, ErrFormat, false},
		{"zero length", compactPatch(t, base, target, packed(0, 0), nil, nil), noRatio, ErrFormat, false},
		{"length past MaxSegment", compactPatch(t, base, target, packed((MaxSegment+1)<<4, 0), nil, nil), noRatio, ErrFormat, false},
		{"copy past the base", compactPatch(t, base, target, pack(appendRecord(nil, record{op: opCopy, length: 1009, offset: 4000})), nil, nil), noRatio, ErrFormat, false},
		{"record past the target", compactPatch(t, base, target, pack(appendRecord(nil, record{op: opCopy, length: 2000, offset: 0})), nil, nil), noRatio, ErrFormat, false},
		{"control stream ends early", compactPatch(t, base, target, ctrl[:4], nil, nil), noRatio, ErrFormat, true},
		{"extra stream short", compactPatch(t, base, target, ctrl, nil, []byte("new")), noRatio, ErrFormat, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := applyBytes(base, c.patch, c.lim)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if !c.wrote && len(out) > 0 {
				t.Fatalf("%d bytes written before the refusal", len(out))
			}
		})
	}
	// Truncated anywhere: refused, never a panic.
	for n := range len(valid) {
		if _, err := applyBytes(base, valid[:n], noRatio); !errors.Is(err, ErrFormat) && !errors.Is(err, ErrBase) {
			t.Fatalf("cut to %d bytes: %v", n, err)
		}
	}
	// A patch longer than a compact patch may be is refused by its header.
	if _, err := Apply(bytes.NewReader(base), int64(len(base)), bytes.NewReader(valid), 1<<33, io.Discard, noRatio); !errors.Is(err, ErrFormat) {
		t.Fatalf("a compact patch of 8 GiB: %v", err)
	}
}

// TestStoredStreamIsNotDecoded: a stream stored as is that happens to
// start like an FSE stream or a zstd frame is taken as it is.
func TestStoredStreamIsNotDecoded(t *testing.T) {
	t.Parallel()
	base := []byte("base")
	for _, insert := range []string{fseMagic + "\x00\x00\x00\x00\x01", "\x28\xb5\x2f\xfd\x00"} {
		ctrl := pack(appendRecord(nil, record{op: opInsert, width: 1, length: int64(len(insert))}))
		p := compactPatch(t, base, []byte(insert), ctrl, nil, []byte(insert))
		if out, err := applyBytes(base, p, Limits{MaxPatchRatio: -1}); err != nil || string(out) != insert {
			t.Fatalf("%q: %q, %v", insert, out, err)
		}
	}
}

// BenchmarkReorderPatchSize reports the size of the patch of a bundle
// whose members were reversed: generated, and the two real pairs of
// docs/delta.md section 10 (hands-bundle, holistic-bundle) when
// DELTA_PAIRS names the directory bench/delta-real.sh extracts them to
// (CORPUS_CACHE/pairs). A size, not a time: run with -benchtime=1x.
func BenchmarkReorderPatchSize(b *testing.B) {
	pairs := map[string][2][]byte{}
	old, nw := reorderedBundle(9, 10)
	pairs["generated-10"] = [2][]byte{old, nw}
	if dir := os.Getenv("DELTA_PAIRS"); dir != "" {
		for _, name := range []string{"hands-bundle", "holistic-bundle"} {
			o, oerr := os.ReadFile(filepath.Join(dir, name, "old.data"))
			n, nerr := os.ReadFile(filepath.Join(dir, name, "new.data"))
			if oerr != nil || nerr != nil {
				b.Fatalf("%s: %v %v", name, oerr, nerr)
			}
			pairs[name] = [2][]byte{o, n}
		}
	}
	for name, p := range pairs {
		b.Run(name, func(b *testing.B) {
			var patch bytes.Buffer
			for b.Loop() {
				patch.Reset()
				if _, err := Diff(bytes.NewReader(p[0]), int64(len(p[0])), bytes.NewReader(p[1]), int64(len(p[1])), &patch, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(patch.Len()), "patch-bytes")
		})
	}
}
