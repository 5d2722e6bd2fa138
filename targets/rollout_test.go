package targets

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestBucketDistribution: over 100,000 synthetic device IDs the fraction
// admitted at P% is P% within 0.3 points, raising P only adds devices,
// the same ID keeps its bucket, and another salt reshuffles the cohorts.
// pinnedBucket is Bucket("salt", "device-1"), computed independently
// (python3: int.from_bytes(sha256(b"saltdevice-1").digest()[:4], "big") % 10000).
const pinnedBucket = 4286

func TestBucketDistribution(t *testing.T) {
	t.Parallel()
	const devices = 100000
	ids := make([]string, devices)
	buckets := make([]int, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("device-%06d", i)
		buckets[i] = Bucket("detector@2.0.0", ids[i])
	}
	admitted := func(bp int) map[int]bool {
		m := map[int]bool{}
		for i, b := range buckets {
			if ok, _ := (&Rollout{BasisPoints: bp, Salt: "detector@2.0.0"}).Admits(b, "", time.Time{}); ok {
				m[i] = true
			}
		}
		return m
	}
	var prev map[int]bool
	for _, pct := range []int{1, 5, 50, 100} {
		got := admitted(pct * 100)
		frac := 100 * float64(len(got)) / devices
		if frac < float64(pct)-0.3 || frac > float64(pct)+0.3 {
			t.Errorf("%d%%: %.2f%% of devices admitted", pct, frac)
		}
		for i := range prev {
			if !got[i] {
				t.Errorf("raising the rollout to %d%% dropped device %s", pct, ids[i])
			}
		}
		prev = got
	}
	for i := 0; i < 1000; i++ {
		if b := Bucket("detector@2.0.0", ids[i]); b != buckets[i] {
			t.Fatalf("%s: bucket %d then %d", ids[i], buckets[i], b)
		}
	}
	// Another salt: the 5% cohorts overlap by about 5% of 5%.
	overlap := 0
	five := 0
	for i, b := range buckets {
		if b < 500 {
			five++
			if Bucket("detector@2.1.0", ids[i]) < 500 {
				overlap++
			}
		}
	}
	if overlap > five/10 {
		t.Errorf("another salt kept %d of %d canaries", overlap, five)
	}
	// Pinned: a change of the bucket function would move every fleet.
	if got := Bucket("salt", "device-1"); got != pinnedBucket {
		t.Errorf("Bucket(salt, device-1) = %d, want %d", got, pinnedBucket)
	}
}

func TestParsePercent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"0": 0, "1": 100, "0.01": 1, "0.5": 50, "5.25": 525, "100": 10000, "100.00": 10000, "007": 700} {
		got, err := ParsePercent(in)
		if err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "100.01", "101", "1.", ".5", "0.001", "1e2", "5%", " 5", "0x10", "1,5", "99999999999999999999"} {
		if got, err := ParsePercent(in); err == nil {
			t.Errorf("ParsePercent(%q) = %d, want an error", in, got)
		}
	}
	for _, bp := range []int{0, 1, 10, 50, 100, 525, 9999, 10000} {
		s := FormatPercent(bp)
		if back, err := ParsePercent(s); err != nil || back != bp {
			t.Errorf("FormatPercent(%d) = %q, parsed back as %d, %v", bp, s, back, err)
		}
	}
	if s := FormatPercent(50); s != "0.5" {
		t.Errorf("FormatPercent(50) = %q", s)
	}
}

func TestRolloutAdmits(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r := &Rollout{BasisPoints: 500, Salt: "s", DeviceClasses: []string{"cam-v2", "cam-v3"}, Start: "2026-12-01T00:00:00Z"}
	for _, c := range []struct {
		bucket int
		class  string
		now    time.Time
		want   string // "" admitted
	}{
		{0, "cam-v2", now, ""},
		{499, "cam-v3", now, ""},
		{500, "cam-v2", now, "cohort bucket 500 is outside the rollout's 5%"},
		{0, "cam-v1", now, "limited to device classes cam-v2, cam-v3, not cam-v1"},
		{0, "", now, "this device declares none"},
		{0, "cam-v2", now.Add(-13 * time.Hour), "starts at 2026-12-01T00:00:00Z"},
	} {
		ok, reason := r.Admits(c.bucket, c.class, c.now)
		if ok != (c.want == "") || !strings.Contains(reason, c.want) {
			t.Errorf("Admits(%d, %q, %v) = %v, %q; want %q", c.bucket, c.class, c.now, ok, reason, c.want)
		}
	}
	halted := &Rollout{BasisPoints: 0, Salt: "s", HaltReason: "crash rate 4%"}
	if ok, reason := halted.Admits(0, "", now); ok || reason != "the rollout is halted: crash rate 4%" {
		t.Errorf("halted rollout: %v, %q", ok, reason)
	}
	if ok, _ := (*Rollout)(nil).Admits(9999, "", now); !ok {
		t.Error("no rollout must admit every device")
	}
}

func TestControlsValidated(t *testing.T) {
	t.Parallel()
	const (
		mpath = "models/det/1.0.0/manifest.json"
		ppath = "models/det/1.0.0/w.bin"
	)
	manifest := func(extra string) string {
		return `{"kind":"model-manifest","schema_version":1,"model_id":"det","version":"1.0.0","build_timestamp":"2024-01-01T00:00:00Z","files":["w.bin"]` + extra + `}`
	}
	rollout := func(fields string) string {
		return `,"rollout":{` + fields + `},"critical":["rollout"]`
	}
	for _, c := range []struct {
		name, path, data string
		want             string // "" means accepted
	}{
		{"rollout", mpath, manifest(rollout(`"basis_points":500,"salt":"a1","device_classes":["cam-v2"],"start":"2026-01-02T03:04:05Z"`)), ""},
		{"halted", mpath, manifest(rollout(`"basis_points":0,"salt":"a1","halt_reason":"crash rate"`)), ""},
		{"revoked", mpath, manifest(`,"revoked":{"reason":"bad accuracy","time":"2026-01-02T03:04:05Z"},"critical":["revoked"]`), ""},
		{"policy", mpath, manifest(`,"policy":{"unmetered_above_bytes":1000000,"min_battery_percent":30,"networks":["wifi","ethernet"]},"critical":["policy"]`), ""},
		{"all three", mpath, manifest(`,"rollout":{"basis_points":10000,"salt":"x"},"revoked":{"reason":"r","time":"2026-01-02T03:04:05Z"},"policy":{"networks":["wifi"]},"critical":["policy","revoked","rollout"]`), ""},

		{"rollout not critical", mpath, manifest(`,"rollout":{"basis_points":500,"salt":"a1"}`), "rollout is present but not listed in critical"},
		{"revoked not critical", mpath, manifest(`,"revoked":{"reason":"r","time":"2026-01-02T03:04:05Z"}`), "revoked is present but not listed in critical"},
		{"critical without control", mpath, manifest(`,"critical":["revoked"]`), "critical lists revoked, which is not present"},
		{"basis points over", mpath, manifest(rollout(`"basis_points":10001,"salt":"a1"`)), "not within 0-10000"},
		{"basis points negative", mpath, manifest(rollout(`"basis_points":-1,"salt":"a1"`)), "not within 0-10000"},
		{"basis points float", mpath, manifest(rollout(`"basis_points":5.5,"salt":"a1"`)), "basis_points"},
		{"no salt", mpath, manifest(rollout(`"basis_points":5`)), "salt must be"},
		{"salt with space", mpath, manifest(rollout(`"basis_points":5,"salt":"a b"`)), "salt must be"},
		{"salt too long", mpath, manifest(rollout(`"basis_points":5,"salt":"` + strings.Repeat("s", 65) + `"`)), "salt must be"},
		{"bad class", mpath, manifest(rollout(`"basis_points":5,"salt":"s","device_classes":["Cam"]`)), "device class"},
		{"class twice", mpath, manifest(rollout(`"basis_points":5,"salt":"s","device_classes":["a","a"]`)), "listed twice"},
		{"bad start", mpath, manifest(rollout(`"basis_points":5,"salt":"s","start":"tomorrow"`)), "RFC 3339"},
		{"start not UTC", mpath, manifest(rollout(`"basis_points":5,"salt":"s","start":"2026-01-02T03:04:05+01:00"`)), "RFC 3339"},
		{"halt reason with percent", mpath, manifest(rollout(`"basis_points":5,"salt":"s","halt_reason":"x"`)), "admits no device"},
		{"reason control chars", mpath, manifest(`,"revoked":{"reason":"a\nb","time":"2026-01-02T03:04:05Z"},"critical":["revoked"]`), "control characters"},
		{"revoked no reason", mpath, manifest(`,"revoked":{"time":"2026-01-02T03:04:05Z"},"critical":["revoked"]`), "reason is missing"},
		{"revoked no time", mpath, manifest(`,"revoked":{"reason":"r"},"critical":["revoked"]`), "time"},
		{"revoked null", mpath, manifest(`,"revoked":null,"critical":["revoked"]`), "not present"},
		{"policy empty", mpath, manifest(`,"policy":{},"critical":["policy"]`), "no condition"},
		{"policy battery", mpath, manifest(`,"policy":{"min_battery_percent":101},"critical":["policy"]`), "not within 0-100"},
		{"policy network", mpath, manifest(`,"policy":{"networks":["5g"]},"critical":["policy"]`), `network "5g"`},
		{"policy negative bytes", mpath, manifest(`,"policy":{"unmetered_above_bytes":-1},"critical":["policy"]`), "negative"},
		{"rollout on payload", ppath, `{"kind":"model-payload","schema_version":1,"model_id":"det","version":"1.0.0","file":"w.bin","rollout":{"basis_points":5,"salt":"s"},"critical":["rollout"]}`, "carries no manifest fields"},
		{"revoked on payload", ppath, `{"kind":"model-payload","schema_version":1,"model_id":"det","version":"1.0.0","file":"w.bin","revoked":{"reason":"r","time":"2026-01-02T03:04:05Z"}}`, "carries no manifest fields"},
	} {
		_, err := ParseCustom(c.path, raw(c.data))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		case c.want != "" && !errors.Is(err, ErrCustom):
			t.Errorf("%s: error %v is not ErrCustom", c.name, err)
		// A control's own failure is also ErrControl (mrepo verify's
		// CONTROL_INVALID); a JSON type error is only ErrCustom.
		case c.want != "" && errors.Is(err, ErrControl) == (c.name == "basis points float"):
			t.Errorf("%s: error %v: ErrControl is %v", c.name, err, errors.Is(err, ErrControl))
		}
	}
	if _, err := ParseCustom(mpath, raw(strings.Replace(manifest(""), `"build_timestamp":"2024-01-01T00:00:00Z",`, "", 1))); err == nil || errors.Is(err, ErrControl) {
		t.Errorf("a manifest without build_timestamp: %v, want ErrCustom only", err)
	}
}

// TestOlderClientIgnoresNoControl: a reader that does not know the
// control fields (the Custom of a client before rollout control) refuses
// a version that carries any of them, because each is critical.
func TestOlderClientIgnoresNoControl(t *testing.T) {
	t.Parallel()
	type olderCustom struct {
		Kind     string   `json:"kind"`
		Critical []string `json:"critical,omitempty"`
	}
	c := &Custom{}
	c.SetControls(&Rollout{BasisPoints: 5, Salt: "s"}, &Revocation{Reason: "r", Time: "2026-01-02T03:04:05Z"}, nil)
	if err := checkCritical(c.Critical, &olderCustom{}); err == nil || !strings.Contains(err.Error(), `"rollout"`) {
		t.Errorf("an older reader accepted critical %v: %v", c.Critical, err)
	}
}

func TestSetControlsKeepsCritical(t *testing.T) {
	t.Parallel()
	c := &Custom{Critical: []string{"variant"}}
	r := &Rollout{BasisPoints: 100, Salt: "s"}
	rev := &Revocation{Reason: "r", Time: "2026-01-02T03:04:05Z"}
	c.SetControls(r, rev, nil)
	if want := []string{"variant", "rollout", "revoked"}; !reflect.DeepEqual(c.Critical, want) {
		t.Errorf("critical = %v, want %v", c.Critical, want)
	}
	c.SetControls(r, nil, &Policy{Networks: []string{"wifi"}})
	if want := []string{"variant", "rollout", "policy"}; !reflect.DeepEqual(c.Critical, want) {
		t.Errorf("critical = %v, want %v", c.Critical, want)
	}
	if c.Revoked != nil || c.Rollout != r {
		t.Error("SetControls did not replace the controls")
	}
	c.SetControls(nil, nil, nil)
	if want := []string{"variant"}; !reflect.DeepEqual(c.Critical, want) {
		t.Errorf("critical = %v, want %v", c.Critical, want)
	}
}
