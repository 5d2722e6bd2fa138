package repo

import (
	"testing"

	"github.com/edgetuf/edgetuf/rollout"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestAddTargetEpochs: each version newer than every published version of
// its model gets the model's highest epoch plus one (the first 1), per
// model, in the top-level targets, a named delegated role and hash bins
// (where a model's versions are spread over bins); AddResult reports it;
// rollout controls and re-signing keep it.
func TestAddTargetEpochs(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	t.Run("targets", func(t *testing.T) {
		t.Parallel()
		fs, dir := clone(t, publishedTree)
		r := openAt(t, fs, dir, t0)
		for v, want := range map[string]uint64{"1.0.0": 1, "2.0.0": 2} {
			if got := controlsOf(t, fs, dir, "det", v).Epoch; got != want {
				t.Fatalf("det %s: epoch %d, want %d", v, got, want)
			}
		}
		kr := keysFor(t, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
		if res := mustPublishAs(t, r, fs, kr, "det", "2.1.0", AddOptions{}); res.Epoch != 3 {
			t.Fatalf("det 2.1.0: result epoch %d", res.Epoch)
		}
		if res := mustPublishAs(t, r, fs, kr, "seg", "5.0.0", AddOptions{}); res.Epoch != 1 {
			t.Fatalf("seg 5.0.0 (another model): epoch %d", res.Epoch)
		}
		if _, err := ctlSet(r, "det", "2.1.0", kr, rollout.SetOptions{BasisPoints: 500}); err != nil {
			t.Fatal(err)
		}
		if _, err := ctlRevoke(r, "det", "2.0.0", kr, rollout.RevokeOptions{Reason: "bad"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Targets(kr); err != nil {
			t.Fatal(err)
		}
		for v, want := range map[string]uint64{"1.0.0": 1, "2.0.0": 2, "2.1.0": 3} {
			if got := controlsOf(t, fs, dir, "det", v).Epoch; got != want {
				t.Fatalf("det %s after controls and re-signing: epoch %d, want %d", v, got, want)
			}
		}
		requireVerifies(t, fs, dir, t0)
	})
	t.Run("named role", func(t *testing.T) {
		t.Parallel()
		fs, dir := clone(t, publishedTree)
		r := openAt(t, fs, dir, t0)
		kr := delegateVision(t, f, r)
		for i, v := range []string{"1.0.0", "1.1.0", "3.0.0"} {
			if res := mustPublishAs(t, r, fs, kr, "vision-cls", v, AddOptions{Role: "vision"}); res.Epoch != uint64(i+1) {
				t.Fatalf("vision-cls %s: epoch %d", v, res.Epoch)
			}
		}
		if _, err := ctlHalt(r, "vision-cls", "3.0.0", "crash loop", kr); err != nil {
			t.Fatal(err)
		}
		if got := controlsOf(t, fs, dir, "vision-cls", "3.0.0").Epoch; got != 3 {
			t.Fatalf("after a halt: epoch %d", got)
		}
		requireVerifies(t, fs, dir, t0)
	})
	t.Run("bins", func(t *testing.T) {
		t.Parallel()
		fs, dir := clone(t, initTree)
		r := openAt(t, fs, dir, t0)
		kr := delegateBins(t, f, r)
		for i, v := range []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0"} {
			if res := mustPublishAs(t, r, fs, kr, "det", v, AddOptions{}); res.Epoch != uint64(i+1) {
				t.Fatalf("det %s: epoch %d", v, res.Epoch)
			}
		}
		requireVerifies(t, fs, dir, t0)
	})
}
