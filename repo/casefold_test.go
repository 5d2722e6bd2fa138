package repo

import (
	"errors"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestAddTargetRefusesCaseCollisions: a bundle whose payload names differ
// only in case (a case-sensitive build machine holds both; a device's SD
// card cannot) is refused, listed in the manifest or not, and so is a
// version that differs from a published one only in case. Nothing is
// published.
func TestAddTargetRefusesCaseCollisions(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	before := fileSnapshot(t, fs, dir)
	files := map[string][]byte{"Model.bin": []byte("one"), "model.bin": []byte("two")}
	for _, c := range []struct {
		name, manifest string
		want           error
	}{
		{"directory listing", `{"model_id":"det","version":"3.0.0"}`, ErrBundle},
		{"manifest files", `{"model_id":"det","version":"3.0.0","files":[{"path":"Model.bin"},{"path":"model.bin"}]}`, targets.ErrManifest},
	} {
		bdir := "/bundles/case-" + strings.ReplaceAll(c.name, " ", "-")
		writeBundle(t, fs, bdir, c.manifest, files)
		_, err := r.AddTarget(bdir, f.kr, AddOptions{})
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), `"Model.bin" and "model.bin" differ only in case`) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(d) != 0 {
		t.Fatalf("a refused bundle changed the repository: %v", d)
	}
	mustPublishAs(t, r, fs, f.kr, "det", "3.0.0-RC.1", AddOptions{})
	_, err := publishAs(t, r, fs, f.kr, "det", "3.0.0-rc.1", AddOptions{})
	if !errors.Is(err, ErrVersionExists) || !strings.Contains(err.Error(), "differs only in case from the published 3.0.0-RC.1") {
		t.Fatalf("version differing in case: %v", err)
	}
}

// TestVerifyReportsCaseCollisions: signed metadata listing payload names
// or versions that collide on a case-insensitive filesystem fails verify.
func TestVerifyReportsCaseCollisions(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	team := teamKey(t, "vision")
	if _, err := r.Delegate(plusKeys(f.kr, team), delegation.Options{Name: "vision", Paths: modelPatterns(t, "vision-*"), Keys: []*metadata.Key{team.Public}}); err != nil {
		t.Fatal(err)
	}
	kr := teamKeyring(t, team)
	mustPublishAs(t, r, fs, kr, "vision-cls", "1.0.0-RC.1", AddOptions{Role: "vision"})
	mustPublishAs(t, r, fs, kr, "vision-cls", "1.1.0", AddOptions{Role: "vision"})
	requireVerifies(t, fs, dir, t0)
	const mp = "models/vision-cls/1.1.0/manifest.json"
	const dupV = "models/vision-cls/1.0.0-rc.1/manifest.json"
	forgeRole(t, fs, dir, t0, "vision", keys.MemKeyring{}.Add(team), func(md *metadata.Metadata[metadata.TargetsType]) {
		// 1.1.0's signed file list gains Model.bin beside model.bin.
		tf := md.Signed.Targets[mp]
		c, err := targets.ParseCustom(mp, tf.Custom)
		if err != nil {
			t.Fatal(err)
		}
		c.Files = append(c.Files, "Model.bin")
		raw, _ := c.Marshal()
		cp := *tf
		cp.Custom = raw
		md.Signed.Targets[mp] = &cp
		// And 1.0.0-rc.1 beside 1.0.0-RC.1.
		rc := *md.Signed.Targets["models/vision-cls/1.0.0-RC.1/manifest.json"]
		rcc, err := targets.ParseCustom(rc.Path, rc.Custom)
		if err != nil {
			t.Fatal(err)
		}
		rcc.Version = "1.0.0-rc.1"
		rc.Custom, _ = rcc.Marshal()
		rc.Path = dupV
		md.Signed.Targets[dupV] = &rc
	})
	rep := verifyAt(t, fs, dir, t0)
	found := false
	for _, p := range rep.Problems {
		if p.Code == audit.CustomInvalid && p.Target == mp && strings.Contains(p.Message, `files "model.bin" and "Model.bin" differ only in case`) {
			found = true
		}
	}
	if !found {
		t.Errorf("problems %v, want %s on %s naming both files", problemCodes(rep), audit.CustomInvalid, mp)
	}
	if !hasProblem(rep, audit.VersionAmbiguous, "", dupV) && !hasProblem(rep, audit.VersionAmbiguous, "", "models/vision-cls/1.0.0-RC.1/manifest.json") {
		t.Errorf("problems %v, want %s for 1.0.0-rc.1", problemCodes(rep), audit.VersionAmbiguous)
	}
}
