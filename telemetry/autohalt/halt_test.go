package autohalt

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestHaltChangeNeverWidens applies the halt to every kind of rollout: a
// staged one ends at 0% with its salt, classes and start kept; a halted
// one and a full release are refused and left as they were.
func TestHaltChangeNeverWidens(t *testing.T) {
	change, err := HaltChange("automatic halt: rollback rate 30%")
	if err != nil {
		t.Fatal(err)
	}
	for _, bp := range []int{1, 100, 5000, 9999} {
		ro := &targets.Rollout{BasisPoints: bp, Salt: "0123456789abcdef", DeviceClasses: []string{"cam-v2"}, Start: "2030-01-01T00:00:00Z"}
		v := &rollout.Version{ModelID: "detector", Version: "1.1.0", Custom: targets.Custom{Rollout: ro}}
		if err := change(v); err != nil {
			t.Fatalf("%d bp: %v", bp, err)
		}
		want := &targets.Rollout{BasisPoints: 0, Salt: ro.Salt, DeviceClasses: ro.DeviceClasses, Start: ro.Start, HaltReason: "automatic halt: rollback rate 30%"}
		if !reflect.DeepEqual(v.Custom.Rollout, want) {
			t.Errorf("%d bp: rollout %+v, want %+v", bp, v.Custom.Rollout, want)
		}
	}
	halted := &targets.Rollout{Salt: "0123456789abcdef", HaltReason: "by hand"}
	v := &rollout.Version{ModelID: "detector", Version: "1.1.0", Custom: targets.Custom{Rollout: halted}}
	if err := change(v); !errors.Is(err, ErrAlreadyHalted) || v.Custom.Rollout.HaltReason != "by hand" {
		t.Errorf("already halted: %v, reason %q", err, v.Custom.Rollout.HaltReason)
	}
	v = &rollout.Version{ModelID: "detector", Version: "1.1.0"}
	if err := change(v); !errors.Is(err, ErrNotStaged) || v.Custom.Rollout != nil {
		t.Errorf("full release: %v, rollout %+v", err, v.Custom.Rollout)
	}
	if _, err := HaltChange(" "); err == nil {
		t.Error("a halt without a reason was accepted")
	}
}

// TestStageHalt halts a version in a top-level targets map (as staged for
// signers) and refuses one that is not there.
func TestStageHalt(t *testing.T) {
	mpath := targets.ManifestPath("detector", "1.1.0")
	c := targets.Custom{Kind: targets.KindManifest, SchemaVersion: targets.SchemaVersion, ModelID: "detector", Version: "1.1.0",
		BuildTimestamp: "2026-12-01T00:00:00Z", Files: []string{"model.onnx"}}
	c.SetControls(&targets.Rollout{BasisPoints: 500, Salt: "0123456789abcdef"}, nil, nil)
	raw, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ts := map[string]*metadata.TargetFiles{mpath: {Length: 10, Hashes: metadata.Hashes{"sha256": make([]byte, 32)}, Custom: raw}}
	change, _ := HaltChange("too many rollbacks")
	if err := StageHalt(ts, "detector", "1.1.0", change, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Rollout targets.Rollout `json:"rollout"`
	}
	if err := json.Unmarshal(*ts[mpath].Custom, &got); err != nil {
		t.Fatal(err)
	}
	if got.Rollout.BasisPoints != 0 || got.Rollout.HaltReason != "too many rollbacks" || got.Rollout.Salt != "0123456789abcdef" {
		t.Errorf("staged rollout %+v", got.Rollout)
	}
	if err := StageHalt(ts, "detector", "9.9.9", change, time.Unix(0, 0)); !errors.Is(err, ErrNotTopLevel) {
		t.Errorf("missing version: %v, want ErrNotTopLevel", err)
	}
}
