package release

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// manifestTargets returns the manifest targets of det's versions with the
// given epochs (-1: no epoch field, as published before epochs existed).
func manifestTargets(t *testing.T, epochs map[string]int64) map[string]*metadata.TargetFiles {
	t.Helper()
	out := map[string]*metadata.TargetFiles{}
	for v, e := range epochs {
		c := targets.ManifestCustom(&targets.Manifest{ModelID: "det", Version: v, BuildTimestamp: "2026-01-02T03:04:05Z", Files: []targets.FileEntry{{Path: "model.bin"}}})
		if e >= 0 {
			c.Epoch = uint64(e)
		}
		raw, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if e > targets.MaxEpoch {
			// Marshal may refuse it; write the field by hand.
			var m map[string]any
			json.Unmarshal(*raw, &m)
			m["epoch"] = e
			b, _ := json.Marshal(m)
			r := json.RawMessage(b)
			raw = &r
		}
		out[targets.ManifestPath("det", v)] = &metadata.TargetFiles{Custom: raw}
	}
	return out
}

// TestAssignEpoch: the newest version gets the highest epoch plus one; a
// version below the highest gets the epoch of the highest version below
// it (0 if none); a model published before epochs existed continues at 1;
// past MaxEpoch or with a published epoch that cannot be read it fails.
func TestAssignEpoch(t *testing.T) {
	for _, c := range []struct {
		name      string
		published map[string]int64
		version   string
		want      uint64
	}{
		{"first version", nil, "1.0.0", 1},
		{"next version", map[string]int64{"1.0.0": 1, "1.1.0": 2}, "2.0.0", 3},
		{"legacy repository", map[string]int64{"1.0.0": -1, "1.1.0": -1}, "1.2.0", 1},
		{"legacy then epochs", map[string]int64{"1.0.0": -1, "1.1.0": 1}, "1.2.0", 2},
		{"between two versions", map[string]int64{"1.0.0": 1, "2.0.0": 2}, "1.5.0", 1},
		{"below every version", map[string]int64{"1.0.0": 1, "2.0.0": 2}, "0.9.0", 0},
		{"a pre-release below its release", map[string]int64{"1.0.0": 4, "2.0.0": 5}, "2.0.0-rc.1", 4},
		{"highest epoch not on the highest version", map[string]int64{"1.0.0": 7, "2.0.0": 2}, "3.0.0", 8},
	} {
		nv, err := targets.ParseVersion(c.version)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AssignEpoch(manifestTargets(t, c.published), "det", nv)
		if err != nil || got != c.want {
			t.Errorf("%s: epoch %d (%v), want %d", c.name, got, err, c.want)
		}
	}
	nv, _ := targets.ParseVersion("9.0.0")
	if _, err := AssignEpoch(manifestTargets(t, map[string]int64{"1.0.0": targets.MaxEpoch}), "det", nv); !errors.Is(err, ErrEpoch) {
		t.Errorf("past MaxEpoch: %v", err)
	}
	if _, err := AssignEpoch(manifestTargets(t, map[string]int64{"1.0.0": targets.MaxEpoch + 1}), "det", nv); !errors.Is(err, ErrEpoch) {
		t.Errorf("a published epoch above MaxEpoch: %v", err)
	}
	garbled := manifestTargets(t, map[string]int64{"1.0.0": 1})
	raw := json.RawMessage(`{"kind":"nonsense"}`)
	garbled[targets.ManifestPath("det", "1.0.0")].Custom = &raw
	if _, err := AssignEpoch(garbled, "det", nv); !errors.Is(err, ErrEpoch) {
		t.Errorf("unreadable published custom metadata: %v", err)
	}
}
