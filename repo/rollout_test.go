package repo

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

var saltRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// controlsOf reads modelID@version's controls as a device resolves them.
func controlsOf(t testing.TB, fs afero.Fs, dir, modelID, version string) *targets.Custom {
	t.Helper()
	r := openAt(t, fs, dir, t0)
	st, err := r.load()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := r.findVersion(st, modelID, version)
	if err != nil {
		t.Fatal(err)
	}
	return ref.Custom
}

// targetFilesState maps every file under targets/ to its content digest,
// mode and modification time: a control change must leave it as it was.
func targetFilesState(t testing.TB, fs afero.Fs, dir string) map[string]string {
	t.Helper()
	out := fileSnapshot(t, fs, filepath.Join(dir, TargetsDir))
	err := afero.Walk(fs, filepath.Join(dir, TargetsDir), func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(dir, TargetsDir), p)
		if !info.IsDir() {
			out[rel] += " " + info.ModTime().Format(time.RFC3339Nano)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRolloutSaltKept: the first rollout of a version gets a random
// 16-hex salt, kept by every later set and by a halt (so raising the
// percentage only adds devices), unless a salt is given; device classes
// and start are kept unless replaced or cleared; 100% without classes or
// start removes the control (a full release).
func TestRolloutSaltKept(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	res, err := ctlSet(r, "det", "2.0.0", f.kr, rollout.SetOptions{BasisPoints: 100})
	if err != nil {
		t.Fatal(err)
	}
	salt := res.Rollout.Salt
	if !saltRE.MatchString(salt) || res.Role != metadata.TARGETS || res.RoleVersion != 4 || res.Versions.Targets != 4 {
		t.Fatalf("result %+v", res)
	}
	c := controlsOf(t, fs, dir, "det", "2.0.0")
	if !reflect.DeepEqual(c.Rollout, &targets.Rollout{BasisPoints: 100, Salt: salt}) || !reflect.DeepEqual(c.Critical, []string{targets.FieldRollout}) {
		t.Fatalf("signed rollout %+v, critical %v", c.Rollout, c.Critical)
	}
	// Another version's first rollout gets another salt.
	other, err := ctlSet(r, "det", "1.0.0", f.kr, rollout.SetOptions{BasisPoints: 100})
	if err != nil {
		t.Fatal(err)
	}
	if other.Rollout.Salt == salt || !saltRE.MatchString(other.Rollout.Salt) {
		t.Errorf("salts %s and %s", salt, other.Rollout.Salt)
	}

	steps := []struct {
		name string
		do   func() (*ControlResult, error)
		want *targets.Rollout
	}{
		{"raise", func() (*ControlResult, error) {
			return ctlSet(r, "det", "2.0.0", f.kr, rollout.SetOptions{BasisPoints: 1000, DeviceClasses: []string{"cam"}, Start: "2030-02-01T00:00:00Z"})
		}, &targets.Rollout{BasisPoints: 1000, Salt: salt, DeviceClasses: []string{"cam"}, Start: "2030-02-01T00:00:00Z"}},
		{"halt", func() (*ControlResult, error) { return ctlHalt(r, "det", "2.0.0", "crash loop", f.kr) },
			&targets.Rollout{BasisPoints: 0, Salt: salt, DeviceClasses: []string{"cam"}, Start: "2030-02-01T00:00:00Z", HaltReason: "crash loop"}},
		{"resume", func() (*ControlResult, error) {
			return ctlSet(r, "det", "2.0.0", f.kr, rollout.SetOptions{BasisPoints: 5000})
		},
			&targets.Rollout{BasisPoints: 5000, Salt: salt, DeviceClasses: []string{"cam"}, Start: "2030-02-01T00:00:00Z"}},
		{"clear", func() (*ControlResult, error) {
			return ctlSet(r, "det", "2.0.0", f.kr, rollout.SetOptions{BasisPoints: 5000, ClearDeviceClasses: true, ClearStart: true})
		}, &targets.Rollout{BasisPoints: 5000, Salt: salt}},
		{"new salt", func() (*ControlResult, error) {
			return ctlSet(r, "det", "2.0.0", f.kr, rollout.SetOptions{BasisPoints: 5000, Salt: "canary-7"})
		}, &targets.Rollout{BasisPoints: 5000, Salt: "canary-7"}},
		{"100% for a class", func() (*ControlResult, error) {
			return ctlSet(r, "det", "2.0.0", f.kr, rollout.SetOptions{BasisPoints: 10000, DeviceClasses: []string{"door"}})
		}, &targets.Rollout{BasisPoints: 10000, Salt: "canary-7", DeviceClasses: []string{"door"}}},
		{"full release", func() (*ControlResult, error) {
			return ctlSet(r, "det", "2.0.0", f.kr, rollout.SetOptions{BasisPoints: 10000, ClearDeviceClasses: true})
		}, nil},
	}
	for _, s := range steps {
		res, err := s.do()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		c := controlsOf(t, fs, dir, "det", "2.0.0")
		if !reflect.DeepEqual(res.Rollout, s.want) || !reflect.DeepEqual(c.Rollout, s.want) {
			t.Fatalf("%s: result %+v, signed %+v, want %+v", s.name, res.Rollout, c.Rollout, s.want)
		}
		if (s.want == nil) != (len(c.Critical) == 0) {
			t.Fatalf("%s: critical %v", s.name, c.Critical)
		}
	}
	// After a full release, a new rollout picks a new salt.
	res, err = ctlSet(r, "det", "2.0.0", f.kr, rollout.SetOptions{BasisPoints: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Rollout.Salt; !saltRE.MatchString(s) || s == salt {
		t.Errorf("salt after a full release: %q", s)
	}
	// The other version was never touched by the changes to 2.0.0.
	if c := controlsOf(t, fs, dir, "det", "1.0.0"); !reflect.DeepEqual(c.Rollout, other.Rollout) {
		t.Errorf("1.0.0 rollout %+v", c.Rollout)
	}
	requireVerifies(t, fs, dir, t0)
}

// TestRolloutNoPayloadTouched: a control change writes only the next
// targets and snapshot and a new timestamp: every file under targets/
// keeps its bytes, mode and modification time, and none is added.
func TestRolloutNoPayloadTouched(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	for i, change := range []func() (*ControlResult, error){
		func() (*ControlResult, error) {
			return ctlSet(r, "det", "2.0.0", f.kr, rollout.SetOptions{BasisPoints: 500})
		},
		func() (*ControlResult, error) { return ctlHalt(r, "det", "2.0.0", "bad", f.kr) },
		func() (*ControlResult, error) {
			return ctlRevoke(r, "det", "2.0.0", f.kr, rollout.RevokeOptions{Reason: "wrong labels"})
		},
		func() (*ControlResult, error) { return ctlUnrevoke(r, "det", "2.0.0", f.kr) },
		func() (*ControlResult, error) {
			return ctlPolicy(r, "det", "2.0.0", f.kr, &targets.Policy{MinBatteryPercent: 30})
		},
	} {
		payloads := targetFilesState(t, fs, dir)
		before := fileSnapshot(t, fs, dir)
		res, err := change()
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		if got := targetFilesState(t, fs, dir); !reflect.DeepEqual(got, payloads) {
			t.Fatalf("change %d: targets/ changed: %v", i, snapshotDiff(payloads, got))
		}
		v := res.Versions
		want := []string{"+metadata/" + itoa(v.Snapshot) + ".snapshot.json", "+metadata/" + itoa(v.Targets) + ".targets.json", "~metadata/timestamp.json"}
		if diff := snapshotDiff(before, fileSnapshot(t, fs, dir)); !reflect.DeepEqual(diff, want) {
			t.Fatalf("change %d wrote %v, want %v", i, diff, want)
		}
	}
	requireVerifies(t, fs, dir, t0)
}

// TestRolloutDelegatedRole: a version that a delegated role signs gets
// its controls re-signed by that role's keys (the targets key is neither
// needed nor used: top-level targets keeps its version), and verify (with
// go-tuf's client as a second opinion) accepts the result; likewise for a
// version in a hash bin.
func TestRolloutDelegatedRole(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	t.Run("named", func(t *testing.T) {
		t.Parallel()
		fs, dir := clone(t, publishedTree)
		r := openAt(t, fs, dir, t0)
		kr := delegateVision(t, f, r)
		mustPublishAs(t, r, fs, kr, "vision-cls", "1.0.0", AddOptions{Role: "vision"})
		mustPublishAs(t, r, fs, kr, "vision-cls", "1.1.0", AddOptions{Role: "vision"})
		before := current(t, fs, dir)
		if _, err := ctlSet(r, "vision-cls", "1.1.0", keysFor(t, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP), rollout.SetOptions{BasisPoints: 500}); !errors.Is(err, ErrThreshold) || !strings.Contains(err.Error(), "vision") {
			t.Fatalf("without the role's key: %v", err)
		}
		res, err := ctlSet(r, "vision-cls", "1.1.0", kr, rollout.SetOptions{BasisPoints: 500})
		if err != nil {
			t.Fatal(err)
		}
		after := current(t, fs, dir)
		if res.Role != "vision" || res.RoleVersion != before.snapshot.Signed.Meta["vision.json"].Version+1 || after.targets.Signed.Version != before.targets.Signed.Version {
			t.Fatalf("result %+v; targets v%d -> v%d", res, before.targets.Signed.Version, after.targets.Signed.Version)
		}
		if _, err := ctlRevoke(r, "vision-cls", "1.1.0", kr, rollout.RevokeOptions{Reason: "bad"}); err != nil {
			t.Fatal(err)
		}
		c := controlsOf(t, fs, dir, "vision-cls", "1.1.0")
		if c.Rollout == nil || c.Rollout.BasisPoints != 500 || c.Revoked == nil || c.Revoked.Reason != "bad" {
			t.Fatalf("signed controls %+v %+v", c.Rollout, c.Revoked)
		}
		requireVerifies(t, fs, dir, t0)
	})
	t.Run("bins", func(t *testing.T) {
		t.Parallel()
		fs, dir := clone(t, initTree)
		r := openAt(t, fs, dir, t0)
		kr := delegateBins(t, f, r)
		mustPublishAs(t, r, fs, kr, "det", "1.0.0", AddOptions{})
		mustPublishAs(t, r, fs, kr, "det", "1.1.0", AddOptions{})
		res, err := ctlHalt(r, "det", "1.1.0", "crash loop", kr)
		if err != nil {
			t.Fatal(err)
		}
		st := current(t, fs, dir) // the bin of the manifest target:
		want := st.targets.Signed.Delegations.SuccinctRoles.GetRolesForTarget(targets.ManifestPath("det", "1.1.0"))[0].Name
		if res.Role != want || res.RoleVersion < 2 {
			t.Fatalf("result %+v, want role %s", res, want)
		}
		if c := controlsOf(t, fs, dir, "det", "1.1.0"); c.Rollout == nil || c.Rollout.HaltReason != "crash loop" {
			t.Fatalf("signed rollout %+v", c.Rollout)
		}
		requireVerifies(t, fs, dir, t0)
	})
}

// TestRevokeLastVersionRefused: revoking leaves the model at least one
// non-revoked version unless AllowNoModel; a refused revocation changes
// nothing. Revoking twice, or unrevoking a version that is not revoked,
// is refused too; the revocation records the reason and the time.
func TestRevokeLastVersionRefused(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	res, err := ctlRevoke(r, "det", "2.0.0", f.kr, rollout.RevokeOptions{Reason: "wrong labels"})
	if err != nil {
		t.Fatal(err)
	}
	want := &targets.Revocation{Reason: "wrong labels", Time: "2030-01-02T02:04:05Z"}
	if !reflect.DeepEqual(res.Revoked, want) || !reflect.DeepEqual(controlsOf(t, fs, dir, "det", "2.0.0").Revoked, want) {
		t.Fatalf("revocation %+v", res.Revoked)
	}
	before := fileSnapshot(t, fs, dir)
	for _, c := range []struct {
		name string
		do   func() error
		want error
		msg  string
	}{
		{"last", func() error {
			_, err := ctlRevoke(r, "det", "1.0.0", f.kr, rollout.RevokeOptions{Reason: "x"})
			return err
		}, rollout.ErrLastVersion, "every other version is revoked"},
		{"twice", func() error {
			_, err := ctlRevoke(r, "det", "2.0.0", f.kr, rollout.RevokeOptions{Reason: "x"})
			return err
		}, rollout.ErrAlreadyRevoked, "revoked at 2030-01-02T02:04:05Z: wrong labels"},
		{"unrevoke live", func() error { _, err := ctlUnrevoke(r, "det", "1.0.0", f.kr); return err }, rollout.ErrNotRevoked, "det 1.0.0"},
	} {
		if err := c.do(); !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %v mentioning %q", c.name, err, c.want, c.msg)
		}
	}
	if diff := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(diff) != 0 {
		t.Fatalf("refusals changed %v", diff)
	}
	res, err = ctlRevoke(r, "det", "1.0.0", f.kr, rollout.RevokeOptions{Reason: "x", AllowNoModel: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "no non-revoked version left") {
		t.Errorf("warnings %q", res.Warnings)
	}
	if _, err := ctlUnrevoke(r, "det", "2.0.0", f.kr); err != nil {
		t.Fatal(err)
	}
	if c := controlsOf(t, fs, dir, "det", "2.0.0"); c.Revoked != nil || len(c.Critical) != 0 {
		t.Errorf("after unrevoke: %+v, critical %v", c.Revoked, c.Critical)
	}
	requireVerifies(t, fs, dir, t0)

	// The only version of a model.
	fs, dir = clone(t, initTree)
	r = openAt(t, fs, dir, t0)
	mustPublishAs(t, r, fs, f.kr, "solo", "1.0.0", AddOptions{})
	if _, err := ctlRevoke(r, "solo", "1.0.0", f.kr, rollout.RevokeOptions{Reason: "x"}); !errors.Is(err, rollout.ErrLastVersion) || !strings.Contains(err.Error(), "it is the only published version") {
		t.Errorf("only version: %v", err)
	}
}

// TestRolloutRefusals: bad arguments and unknown versions are refused
// before any key is used, and change nothing.
func TestRolloutRefusals(t *testing.T) {
	t.Parallel()
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	before := fileSnapshot(t, fs, dir)
	none := keys.MemKeyring{} // no key: a refusal must come before signing
	for _, c := range []struct {
		name string
		do   func() error
		want error
		msg  string
	}{
		{"unknown model", func() error {
			_, err := ctlSet(r, "nope", "1.0.0", none, rollout.SetOptions{BasisPoints: 1})
			return err
		}, rollout.ErrNotPublished, "model nope has no published version"},
		{"unknown version", func() error {
			_, err := ctlSet(r, "det", "3.0.0", none, rollout.SetOptions{BasisPoints: 1})
			return err
		}, rollout.ErrNotPublished, "det 3.0.0 (published: 1.0.0, 2.0.0)"},
		{"bad version", func() error {
			_, err := ctlRevoke(r, "det", "v2", none, rollout.RevokeOptions{Reason: "x"})
			return err
		}, nil, "v2"},
		{"percent over", func() error {
			_, err := ctlSet(r, "det", "2.0.0", none, rollout.SetOptions{BasisPoints: 10001})
			return err
		}, targets.ErrControl, "not within 0-10000"},
		{"percent negative", func() error {
			_, err := ctlSet(r, "det", "2.0.0", none, rollout.SetOptions{BasisPoints: -1})
			return err
		}, targets.ErrControl, "not within 0-10000"},
		{"bad salt", func() error {
			_, err := ctlSet(r, "det", "2.0.0", none, rollout.SetOptions{BasisPoints: 1, Salt: "a b"})
			return err
		}, targets.ErrControl, "salt must be"},
		{"bad class", func() error {
			_, err := ctlSet(r, "det", "2.0.0", none, rollout.SetOptions{BasisPoints: 1, DeviceClasses: []string{"Cam"}})
			return err
		}, targets.ErrControl, "device class"},
		{"bad start", func() error {
			_, err := ctlSet(r, "det", "2.0.0", none, rollout.SetOptions{BasisPoints: 1, Start: "tomorrow"})
			return err
		}, targets.ErrControl, "RFC 3339"},
		{"halt without reason", func() error { _, err := ctlHalt(r, "det", "2.0.0", " ", none); return err }, targets.ErrControl, "needs a reason"},
		{"revoke without reason", func() error { _, err := ctlRevoke(r, "det", "2.0.0", none, rollout.RevokeOptions{}); return err }, targets.ErrControl, "needs a reason"},
		{"reason with newline", func() error {
			_, err := ctlRevoke(r, "det", "2.0.0", none, rollout.RevokeOptions{Reason: "a\nb"})
			return err
		}, targets.ErrControl, "control characters"},
		{"empty policy", func() error { _, err := ctlPolicy(r, "det", "2.0.0", none, &targets.Policy{}); return err }, targets.ErrControl, "no condition"},
		{"policy network", func() error {
			_, err := ctlPolicy(r, "det", "2.0.0", none, &targets.Policy{Networks: []string{"5g"}})
			return err
		}, targets.ErrControl, `network "5g"`},
		{"no keys", func() error {
			_, err := ctlSet(r, "det", "2.0.0", none, rollout.SetOptions{BasisPoints: 1})
			return err
		}, ErrThreshold, "targets needs 1"},
	} {
		err := c.do()
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %v mentioning %q", c.name, err, c.want, c.msg)
		}
	}
	if diff := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(diff) != 0 {
		t.Fatalf("refusals changed %v", diff)
	}
}

// TestRolloutPolicy: a policy is set, replaced and cleared, and is listed
// in critical exactly while present.
func TestRolloutPolicy(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	p := &targets.Policy{UnmeteredAboveBytes: 50 << 20, MinBatteryPercent: 30, Networks: []string{"wifi", "ethernet"}}
	if _, err := ctlPolicy(r, "det", "2.0.0", f.kr, p); err != nil {
		t.Fatal(err)
	}
	if c := controlsOf(t, fs, dir, "det", "2.0.0"); !reflect.DeepEqual(c.Policy, p) || !slices.Equal(c.Critical, []string{targets.FieldPolicy}) {
		t.Fatalf("policy %+v, critical %v", c.Policy, c.Critical)
	}
	if _, err := ctlPolicy(r, "det", "2.0.0", f.kr, nil); err != nil {
		t.Fatal(err)
	}
	if c := controlsOf(t, fs, dir, "det", "2.0.0"); c.Policy != nil || len(c.Critical) != 0 {
		t.Fatalf("cleared policy %+v, critical %v", c.Policy, c.Critical)
	}
	requireVerifies(t, fs, dir, t0)
}

// TestAddTargetRollout: a version can be published already staged and
// with a policy; 100% publishes no rollout; an invalid control refuses
// the publication before any file is copied.
func TestAddTargetRollout(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	p := &targets.Policy{MinBatteryPercent: 20}
	mustPublishAs(t, r, fs, f.kr, "det", "3.0.0", AddOptions{Rollout: &targets.Rollout{BasisPoints: 100}, Policy: p})
	c := controlsOf(t, fs, dir, "det", "3.0.0")
	if c.Rollout == nil || c.Rollout.BasisPoints != 100 || !saltRE.MatchString(c.Rollout.Salt) || !reflect.DeepEqual(c.Policy, p) {
		t.Fatalf("published controls %+v %+v", c.Rollout, c.Policy)
	}
	if !slices.Equal(c.Critical, []string{targets.FieldRollout, targets.FieldPolicy}) {
		t.Errorf("critical %v", c.Critical)
	}
	// The payload targets carry no control.
	st := current(t, fs, dir)
	for _, p := range modelTargets(st, "det", "3.0.0") {
		pc, err := targets.ParseCustom(p, st.targets.Signed.Targets[p].Custom)
		if err != nil {
			t.Fatal(err)
		}
		if pc.Kind == targets.KindPayload && (pc.Rollout != nil || pc.Policy != nil) {
			t.Errorf("%s carries controls", p)
		}
	}
	mustPublishAs(t, r, fs, f.kr, "det", "4.0.0", AddOptions{Rollout: &targets.Rollout{BasisPoints: 10000}})
	if c := controlsOf(t, fs, dir, "det", "4.0.0"); c.Rollout != nil || len(c.Critical) != 0 {
		t.Errorf("100%%: %+v, critical %v", c.Rollout, c.Critical)
	}
	before := fileSnapshot(t, fs, dir)
	for _, opts := range []AddOptions{
		{Rollout: &targets.Rollout{BasisPoints: 10001}},
		{Rollout: &targets.Rollout{BasisPoints: 5, Salt: "a b"}},
		{Policy: &targets.Policy{}},
	} {
		if _, err := publishAs(t, r, fs, f.kr, "det", "5.0.0", opts); !errors.Is(err, targets.ErrControl) {
			t.Errorf("%+v: %v", opts, err)
		}
	}
	after := fileSnapshot(t, fs, dir)
	if diff := snapshotDiff(before, after); len(diff) != 0 {
		t.Fatalf("refused publications changed %v", diff)
	}
	requireVerifies(t, fs, dir, t0)
}

// TestRolloutConcurrentWriters: control changes racing each other (and a
// publication) all land, one after the other, under the writer lock.
func TestRolloutConcurrentWriters(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	start := current(t, fs, dir).timestamp.Signed.Version
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := openAt(t, fs, dir, t0)
			v := []string{"1.0.0", "2.0.0"}[i%2]
			if i < 2 {
				_, errs[i] = ctlSet(r, "det", v, f.kr, rollout.SetOptions{BasisPoints: 100 * (i + 1)})
			} else {
				_, errs[i] = ctlPolicy(r, "det", v, f.kr, &targets.Policy{MinBatteryPercent: 10 * i})
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, errs[4] = publishAs(t, openAt(t, fs, dir, t0), fs, f.kr, "det", "3.0.0", AddOptions{})
	}()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if got := current(t, fs, dir).timestamp.Signed.Version; got != start+5 {
		t.Errorf("timestamp v%d after 5 writes from v%d", got, start)
	}
	c1, c2 := controlsOf(t, fs, dir, "det", "1.0.0"), controlsOf(t, fs, dir, "det", "2.0.0")
	if c1.Rollout == nil || c1.Rollout.BasisPoints != 100 || c1.Policy == nil || c1.Policy.MinBatteryPercent != 20 ||
		c2.Rollout == nil || c2.Rollout.BasisPoints != 200 || c2.Policy == nil || c2.Policy.MinBatteryPercent != 30 {
		t.Errorf("controls %+v %+v / %+v %+v", c1.Rollout, c1.Policy, c2.Rollout, c2.Policy)
	}
	requireVerifies(t, fs, dir, t0)
}

// The control operations as cmd/mrepo runs them: a change planned by
// package rollout, published by ChangeControls.

func ctlSet(r *Repository, model, version string, kr keys.Keyring, opts rollout.SetOptions) (*ControlResult, error) {
	return r.ChangeControls(model, version, kr, rollout.Set(opts))
}

func ctlHalt(r *Repository, model, version, reason string, kr keys.Keyring) (*ControlResult, error) {
	change, err := rollout.Halt(reason)
	if err != nil {
		return nil, err
	}
	return r.ChangeControls(model, version, kr, change)
}

func ctlRevoke(r *Repository, model, version string, kr keys.Keyring, opts rollout.RevokeOptions) (*ControlResult, error) {
	change, err := rollout.Revoke(opts)
	if err != nil {
		return nil, err
	}
	return r.ChangeControls(model, version, kr, change)
}

func ctlUnrevoke(r *Repository, model, version string, kr keys.Keyring) (*ControlResult, error) {
	return r.ChangeControls(model, version, kr, rollout.Unrevoke())
}

func ctlPolicy(r *Repository, model, version string, kr keys.Keyring, p *targets.Policy) (*ControlResult, error) {
	return r.ChangeControls(model, version, kr, rollout.SetPolicy(p))
}
