package rollout

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// The rules run on metadata alone; repo's tests publish them end to end.

func TestSetKeepsSaltAndLimits(t *testing.T) {
	v := &Version{ModelID: "det", Version: "2.0.0"}
	if err := Set(SetOptions{BasisPoints: 100, DeviceClasses: []string{"cam"}})(v); err != nil {
		t.Fatal(err)
	}
	ro := v.Custom.Rollout
	if ro == nil || len(ro.Salt) != SaltLength || ro.BasisPoints != 100 {
		t.Fatalf("first rollout: %+v", ro)
	}
	salt := ro.Salt
	if err := Set(SetOptions{BasisPoints: 5000})(v); err != nil {
		t.Fatal(err)
	}
	if ro := v.Custom.Rollout; ro.Salt != salt || len(ro.DeviceClasses) != 1 {
		t.Errorf("raise lost the salt or classes: %+v", ro)
	}
	if err := Set(SetOptions{BasisPoints: targets.Buckets, ClearDeviceClasses: true})(v); err != nil || v.Custom.Rollout != nil {
		t.Errorf("full release: %+v, %v", v.Custom.Rollout, err)
	}
}

func TestRevokeLastVersion(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	if _, err := Revoke(RevokeOptions{Reason: " "}); !errors.Is(err, targets.ErrControl) {
		t.Errorf("empty reason: %v", err)
	}
	change, err := Revoke(RevokeOptions{Reason: "bad"})
	if err != nil {
		t.Fatal(err)
	}
	v := &Version{ModelID: "det", Version: "2.0.0", Now: now, Others: []Other{{Version: "1.0.0", Revoked: &targets.Revocation{Reason: "old"}}}}
	if err := change(v); !errors.Is(err, ErrLastVersion) || !strings.Contains(err.Error(), "every other version is revoked") {
		t.Errorf("last version: %v", err)
	}
	// A version devices refuse (custom metadata that does not parse) is no
	// fallback: revoking the only other one is still the last version.
	v.Others = append(v.Others, Other{Version: "1.4.0", Refused: true})
	if err := change(v); !errors.Is(err, ErrLastVersion) || !strings.Contains(err.Error(), "refused by devices") {
		t.Errorf("last usable version: %v", err)
	}
	v.Others = append(v.Others, Other{Version: "1.5.0"})
	if err := change(v); err != nil || v.Custom.Revoked.Time != "2030-01-02T03:04:05Z" {
		t.Fatalf("revoke: %+v, %v", v.Custom.Revoked, err)
	}
	if err := change(v); !errors.Is(err, ErrAlreadyRevoked) {
		t.Errorf("twice: %v", err)
	}
}

func TestApplyChecksAsADevice(t *testing.T) {
	v := &Version{ModelID: "det", Version: "2.0.0"}
	_, err := Apply(v, targets.ManifestPath("det", "2.0.0"), SetPolicy(&targets.Policy{}))
	if !errors.Is(err, targets.ErrControl) || !strings.Contains(err.Error(), "no condition") {
		t.Errorf("empty policy: %v", err)
	}
}

func TestPrepare(t *testing.T) {
	in := &targets.Rollout{BasisPoints: 500}
	ro, err := Prepare(in, nil)
	if err != nil || ro == in || len(ro.Salt) != SaltLength || in.Salt != "" {
		t.Errorf("salt: %+v, %v (input %+v)", ro, err, in)
	}
	if ro, err := Prepare(&targets.Rollout{BasisPoints: targets.Buckets}, nil); ro != nil || err != nil {
		t.Errorf("full release: %+v, %v", ro, err)
	}
}

func TestParse(t *testing.T) {
	if m, v, err := ParseModelVersion("det@1.2.0"); m != "det" || v != "1.2.0" || err != nil {
		t.Errorf("ParseModelVersion: %q %q %v", m, v, err)
	}
	for _, s := range []string{"det", "det@v1", "@1.0.0"} {
		if _, _, err := ParseModelVersion(s); err == nil {
			t.Errorf("ParseModelVersion(%q) accepted", s)
		}
	}
	if s, err := ParseStart("2026-05-01T10:00:00+02:00"); s != "2026-05-01T08:00:00Z" || err != nil {
		t.Errorf("ParseStart: %q, %v", s, err)
	}
	if _, err := ParseStart("2026-05-01T10:00:00.5Z"); err == nil || !strings.Contains(err.Error(), "whole seconds") {
		t.Errorf("ParseStart fraction: %v", err)
	}
	for s, want := range map[string]int64{"52428800": 52428800, "50MB": 50e6, "50MiB": 50 << 20, "1 kB": 1000} {
		if n, err := ParseUnmeteredAbove(s); n != want || err != nil {
			t.Errorf("ParseUnmeteredAbove(%q) = %d, %v", s, n, err)
		}
	}
	for _, s := range []string{"0", "", "5TB", "-1", "1.5MB"} {
		if _, err := ParseUnmeteredAbove(s); err == nil {
			t.Errorf("ParseUnmeteredAbove(%q) accepted", s)
		}
	}
	if CheckMinBattery(0) == nil || CheckMinBattery(101) == nil || CheckMinBattery(100) != nil {
		t.Error("CheckMinBattery")
	}
	if CheckSalt("a b") == nil || CheckSalt("canary-7") != nil {
		t.Error("CheckSalt")
	}
}

// TestOthersMarksRefused: another version whose custom metadata does not
// parse is listed as Refused (devices will not take it), a good one with
// its revocation.
func TestOthersMarksRefused(t *testing.T) {
	custom := func(version string, controls func(c *targets.Custom)) *json.RawMessage {
		c := &targets.Custom{Kind: targets.KindManifest, SchemaVersion: 1, ModelID: "det", Version: version,
			Compat: targets.Compat{Variant: "lite", Platforms: []string{"linux/arm64"}}, BuildTimestamp: "2030-01-01T00:00:00Z", Files: []string{"model.onnx"}}
		controls(c)
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		raw := json.RawMessage(data)
		if _, err := targets.ParseCustom(targets.ManifestPath("det", version), &raw); (err == nil) != (version == "1.0.0") {
			t.Fatalf("fixture %s: %v", version, err)
		}
		return &raw
	}
	good := custom("1.0.0", func(c *targets.Custom) {
		c.SetControls(nil, &targets.Revocation{Reason: "r", Time: "2030-01-02T03:04:05Z"}, nil)
	})
	bad := custom("1.1.0", func(c *targets.Custom) { c.Rollout = &targets.Rollout{BasisPoints: 1} }) // no salt, not critical
	view := map[string]*metadata.TargetFiles{
		targets.ManifestPath("det", "1.0.0"): {Custom: good},
		targets.ManifestPath("det", "1.1.0"): {Custom: bad},
		targets.ManifestPath("det", "2.0.0"): {},
	}
	got := Others(view, "det", "2.0.0")
	if len(got) != 2 || got[0].Version != "1.0.0" || got[0].Refused || got[0].Revoked == nil ||
		got[1].Version != "1.1.0" || !got[1].Refused {
		t.Fatalf("%+v", got)
	}
}
