package delta

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"testing"

	"github.com/edgetuf/edgetuf/internal/modelpairs"
)

// slowPatch is the cheapest patch to send and the dearest to apply: a
// record per output byte, each a one-byte COPY of base[0] (or, with
// xor, a one-byte XOR), whose control stream compresses to almost
// nothing. Its header is honest (the output's true SHA-256), as a
// hostile key holder can make it. On a 4 MiB base it is 1.5 KB and took
// about 7 s of CPU to apply before Apply had a work budget.
func slowPatch(t testing.TB, base []byte, op uint8) []byte {
	n := len(base)
	ctrl := make([]byte, 0, 4*n)
	var diff []byte
	for i := 0; i < n; i++ {
		r := record{op: op, length: 1}
		if op != opCopy {
			r.width = 1
		}
		ctrl = appendRecord(ctrl, r)
	}
	target := bytes.Repeat(base[:1], n)
	if op == opXOR {
		diff = make([]byte, n)
	}
	h := Header{BaseLength: int64(n), BaseSHA256: sha256.Sum256(base), TargetLength: int64(n), TargetSHA256: sha256.Sum256(target)}
	return craft(t, h, rawSegment{outLen: uint32(n), ctrlOverride: ctrl, diff: diff})
}

// TestWorkBudgetStopsSlowPatch performs the slow-patch attack: the
// default budget stops it with ErrLimit after at most WorkBudget(4 MiB)
// units of work, a small part of what it asks for (the count is
// deterministic; no clock is involved), and a budget shared by several
// calls bounds their total.
func TestWorkBudgetStopsSlowPatch(t *testing.T) {
	t.Parallel()
	base := randomBytes(4 << 20)
	for _, op := range []uint8{opCopy, opXOR} {
		p := slowPatch(t, base, op)
		if len(p) > 4<<10 {
			t.Fatalf("the slow patch is %d bytes", len(p))
		}
		b := NewBudget(WorkBudget(int64(len(base))))
		_, err := applyBytes(base, p, Limits{Work: b})
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("op %d: %v, want ErrLimit", op, err)
		}
		// Refused before it is done: never more than the budget.
		if b.Used() > WorkBudget(int64(len(base))) {
			t.Fatalf("used %d units, budget %d", b.Used(), WorkBudget(int64(len(base))))
		}
		t.Logf("op %d: %d-byte patch stopped after %d work units: %v", op, len(p), b.Used(), err)
		// Without a budget of its own, the default one stops it too.
		if _, err := applyBytes(base, p, Limits{}); !errors.Is(err, ErrLimit) {
			t.Fatalf("default budget: %v, want ErrLimit", err)
		}
	}

	// A shared budget: what one call used is gone for the next.
	b := NewBudget(WorkBudget(int64(len(base))))
	if _, err := applyBytes(base, slowPatch(t, base, opCopy), Limits{Work: b}); !errors.Is(err, ErrLimit) {
		t.Fatal(err)
	}
	target := append(bytes.Clone(base[:1000]), []byte("new bytes")...)
	h := Header{BaseLength: int64(len(base)), BaseSHA256: sha256.Sum256(base), TargetLength: int64(len(target)), TargetSHA256: sha256.Sum256(target)}
	small := craft(t, h, rawSegment{outLen: uint32(len(target)), records: []record{
		{op: opCopy, length: 1000, offset: 0}, {op: opInsert, width: 1, length: 9}}, extra: []byte("new bytes")})
	if out, err := applyBytes(base, small, Limits{MaxPatchRatio: -1}); err != nil || !bytes.Equal(out, target) {
		t.Fatalf("the small patch alone: %v", err)
	}
	if _, err := applyBytes(base, small, Limits{MaxPatchRatio: -1, Work: b}); !errors.Is(err, ErrLimit) {
		t.Fatalf("after the budget was used up: %v, want ErrLimit", err)
	}
}

// TestWorkBudgetFitsLegitimatePatches: every patch Diff writes for the
// benchmark pairs, and for the worst inputs found for it (a byte changed
// every few dozen bytes: a record every ~10 bytes), fits in the default
// budget with a wide margin (16x, 10x for unrelated files, 3x for the
// worst inputs). The ratios are logged (docs/delta.md).
func TestWorkBudgetFitsLegitimatePatches(t *testing.T) {
	t.Parallel()
	const size = 4 << 20
	type pair struct {
		name     string
		old, new []byte
		margin   float64 // WorkPerByte must be at least margin times the ratio
	}
	var pairs []pair
	for _, name := range modelpairs.Names() {
		old, nw := modelpairs.Bytes(name, size, 1)
		margin := 16.0
		if name == "different" {
			// Its whole output is a zstd extra stream, charged
			// workPerZstdStreamByte per byte: about 6 units per byte.
			margin = 10
		}
		pairs = append(pairs, pair{name, old, nw, margin})
	}
	for _, step := range []int{33, 37, 50, 64} {
		old := randomBytes(size)
		nw := bytes.Clone(old)
		for i := 0; i < len(nw); i += step {
			nw[i] ^= 0x5a
		}
		pairs = append(pairs, pair{fmt.Sprintf("1 byte in %d", step), old, nw, 3})
	}
	for _, p := range pairs {
		var patch bytes.Buffer
		if _, err := Diff(bytes.NewReader(p.old), int64(len(p.old)), bytes.NewReader(p.new), int64(len(p.new)), &patch, Options{}); err != nil {
			t.Fatal(err)
		}
		b := NewBudget(math.MaxInt64)
		if _, err := Apply(bytes.NewReader(p.old), int64(len(p.old)), bytes.NewReader(patch.Bytes()), int64(patch.Len()), io.Discard, Limits{MaxPatchRatio: -1, Work: b}); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		ratio := float64(b.Used()) / float64(len(p.new))
		t.Logf("%-12s %d work units for %d bytes: %.2f per byte", p.name, b.Used(), len(p.new), ratio)
		if ratio*p.margin > WorkPerByte {
			t.Errorf("%s: %.2f units per byte: less than a %gx margin under WorkPerByte %d", p.name, ratio, p.margin, WorkPerByte)
		}
		// And with the default budget.
		if _, err := Apply(bytes.NewReader(p.old), int64(len(p.old)), bytes.NewReader(patch.Bytes()), int64(patch.Len()), io.Discard, Limits{MaxPatchRatio: -1}); err != nil {
			t.Fatalf("%s with the default budget: %v", p.name, err)
		}
	}
}

func TestWorkBudgetSaturates(t *testing.T) {
	t.Parallel()
	if got := WorkBudget(math.MaxInt64); got != math.MaxInt64 {
		t.Fatalf("WorkBudget(MaxInt64) = %d", got)
	}
	if got := WorkBudget(-1); got != WorkBase {
		t.Fatalf("WorkBudget(-1) = %d", got)
	}
	if got := WorkBudget(10); got != WorkBase+10*WorkPerByte {
		t.Fatalf("WorkBudget(10) = %d", got)
	}
}
