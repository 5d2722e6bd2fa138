package client_test

import (
	"bytes"
	"crypto/sha256"
	"os"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/targets"
)

// TestDeltaSlowPatchStoppedByWorkBudget: a signed patch that is tiny but
// costs a record per output byte (one-byte COPY records: a few hundred
// bytes of patch, half a million base reads) is stopped by the update's
// work budget, deterministically (no clock), reported as DELTA_FAILED
// with a limit reason, never as a tampered base, and the file is
// downloaded whole in the same run.
func TestDeltaSlowPatchStoppedByWorkBudget(t *testing.T) {
	t.Parallel()
	r, srv, d := onDeltaV1(t, fastOpts())
	publishDelta(t, r, "1.1.0", "1.0.0")
	base, target := weights(0), weights(1)
	bl, tl := int64(len(base)), int64(len(target))
	// The header is the one the signed metadata requires; the records
	// rebuild a file of base[0] bytes, which fails the final hash: the
	// old code worked through every record, then blamed the base.
	p := patchHeader(bl, sha256.Sum256(base), tl, sha256.Sum256(target))
	var ctrl []byte
	for i := int64(0); i < tl; i++ {
		ctrl = append(ctrl, records([]uint64{0, 1, 0})...) // COPY 1 byte from offset 0
	}
	evil := segment(p, uint32(tl), compress(t, bytes.NewReader(ctrl)), nil, nil)
	if len(evil) > 4<<10 {
		t.Fatalf("the slow patch is %d bytes", len(evil))
	}
	tp := targets.DeltaPath(model, "1.1.0", "1.0.0", "model.bin")
	f := forgeDeltaRepo(t, r)
	f.setTargetBytes(tp, evil)
	f.publishTrusted(r)
	srv.set(dirHandler(f.dir))
	srv.reset()
	since := len(d.events())
	res := d.mustUpdate("1.1.0")
	wantFallback(t, d, res, since, "1.0.0", client.DeltaFailed)
	ff := fileFetch(t, res, "model.bin")
	if !strings.Contains(ff.Message, "exceeds a limit") || !strings.Contains(ff.Message, "budget") {
		t.Fatalf("reason %q, want the work budget limit", ff.Message)
	}
	if len(srv.requests("/targets/models/det/1.1.0/deltas/")) != 1 {
		t.Fatalf("requests %v: the patch was not tried", srv.requests("/targets/"))
	}
}

// TestDeltaBadPatchDoesNotBlameBase: a signed patch whose records rebuild
// the wrong bytes is the patch's fault (DELTA_FAILED), found by
// re-hashing the base; the same failure with a base changed on disk is
// the base's (HASH_MISMATCH, TestDeltaTamperedBase).
func TestDeltaBadPatchDoesNotBlameBase(t *testing.T) {
	t.Parallel()
	r, srv, d := onDeltaV1(t, fastOpts())
	publishDelta(t, r, "1.1.0", "1.0.0")
	base, target := weights(0), weights(1)
	bl, tl := int64(len(base)), int64(len(target))
	// Valid records that rebuild the base, not the target.
	evil := segment(patchHeader(bl, sha256.Sum256(base), tl, sha256.Sum256(target)), uint32(tl),
		compress(t, bytes.NewReader(records([]uint64{0, uint64(tl), 0}))), nil, nil)
	tp := targets.DeltaPath(model, "1.1.0", "1.0.0", "model.bin")
	f := forgeDeltaRepo(t, r)
	f.setTargetBytes(tp, evil)
	f.publishTrusted(r)
	srv.set(dirHandler(f.dir))
	srv.reset()
	since := len(d.events())
	res := d.mustUpdate("1.1.0")
	wantFallback(t, d, res, since, "1.0.0", client.DeltaFailed)
	if msg := fileFetch(t, res, "model.bin").Message; !strings.Contains(msg, "does not match the target") {
		t.Fatalf("reason %q", msg)
	}
	// The base was untouched and is still installed as signed.
	got, err := os.ReadFile(d.path("models", model, "1.0.0", "model.bin"))
	if err != nil || !bytes.Equal(got, base) {
		t.Fatalf("the base changed: %v", err)
	}
}
