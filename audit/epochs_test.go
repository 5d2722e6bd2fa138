package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestVerifyEpochs: a repository published by mrepo verifies with epochs 1
// and 2; epochs that decrease in version order, or one above MaxEpoch,
// are EPOCH_INVALID (and nothing else); a repository whose targets have no
// epoch at all (published before epochs existed) verifies.
func TestVerifyEpochs(t *testing.T) {
	t.Parallel()
	const (
		man1 = "models/det/1.0.0/manifest.json"
		man2 = "models/det/2.0.0/manifest.json"
	)
	setEpochs := func(t *testing.T, f *fixture, epochs map[string]any) {
		republish(t, f, func(st *state) {
			for p, e := range epochs {
				var c map[string]any
				if err := json.Unmarshal(*st.targets.Signed.Targets[p].Custom, &c); err != nil {
					t.Fatal(err)
				}
				if e == nil {
					delete(c, "epoch")
				} else {
					c["epoch"] = e
				}
				data, _ := json.Marshal(c)
				raw := json.RawMessage(data)
				st.targets.Signed.Targets[p].Custom = &raw
			}
		})
	}
	f := published(t)
	for p, want := range map[string]float64{man1: 1, man2: 2} {
		var c map[string]any
		json.Unmarshal(*current(t, f).targets.Signed.Targets[p].Custom, &c)
		if c["epoch"] != want {
			t.Fatalf("%s: epoch %v, want %v", p, c["epoch"], want)
		}
	}
	requireVerifies(t, f, t0.Add(time.Hour))

	for _, c := range []struct {
		name   string
		epochs map[string]any
		target string // "": verifies
		msg    string
	}{
		{"decreasing", map[string]any{man1: 3, man2: 2}, man2, "det 2.0.0 has rollback epoch 2, below epoch 3 of the older det 1.0.0"},
		{"absent after present", map[string]any{man2: nil}, man2, "det 2.0.0 has rollback epoch 0, below epoch 1 of the older det 1.0.0"},
		{"above MaxEpoch", map[string]any{man2: 1<<20 + 1}, man2, "epoch 1048577 is above 1048576"},
		{"no epochs at all", map[string]any{man1: nil, man2: nil}, "", ""},
		{"equal epochs", map[string]any{man1: 2, man2: 2}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := published(t)
			setEpochs(t, f, c.epochs)
			rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0.Add(time.Hour)})
			if c.target == "" {
				if !rep.OK() {
					t.Fatalf("problems: %s", problemList(rep))
				}
				return
			}
			// (An unparsable manifest target also leaves its version
			// without a manifest: MANIFEST_MISMATCH.)
			found := 0
			for _, p := range rep.Problems {
				switch {
				case p.Code == EpochInvalid && p.Target == c.target && strings.Contains(p.Message, c.msg):
					found++
				case p.Code == ManifestMismatch:
				default:
					t.Errorf("unexpected problem %s", p)
				}
			}
			if found != 1 {
				t.Fatalf("want one %s on %s mentioning %q; got:\n%s", EpochInvalid, c.target, c.msg, problemList(rep))
			}
		})
	}
}
