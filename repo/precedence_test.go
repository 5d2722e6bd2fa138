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

// TestAddTargetRefusesEqualPrecedence: a version that differs from a
// published one only in build metadata is refused, naming the published
// one, wherever that one is listed: in the top-level targets role or in a
// delegated role, whichever role the new one would go to.
func TestAddTargetRefusesEqualPrecedence(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)

	// Top-level: det 2.0.0 is published.
	_, err := publishAs(t, r, fs, f.kr, "det", "2.0.0+build.9", AddOptions{})
	if !errors.Is(err, ErrVersionExists) || !strings.Contains(err.Error(), "same precedence as the published 2.0.0") {
		t.Fatalf("det 2.0.0+build.9: %v", err)
	}

	// vision-cls 1.0.0 published at the top level, then its paths
	// delegated to a team, which tries 1.0.0+team.1 in its role; and
	// 1.1.0 in the role, then 1.1.0+x at the top level.
	mustPublishAs(t, r, fs, f.kr, "vision-cls", "1.0.0", AddOptions{})
	team := teamKey(t, "vision")
	if _, err := r.Delegate(plusKeys(f.kr, team), delegation.Options{Name: "vision", Paths: modelPatterns(t, "vision-*"), Keys: []*metadata.Key{team.Public}}); err != nil {
		t.Fatal(err)
	}
	kr := teamKeyring(t, team)
	_, err = publishAs(t, r, fs, kr, "vision-cls", "1.0.0+team.1", AddOptions{Role: "vision"})
	if !errors.Is(err, ErrVersionExists) || !strings.Contains(err.Error(), "vision-cls 1.0.0+team.1 has the same precedence as the published 1.0.0") {
		t.Fatalf("into the role, next to a top-level version: %v", err)
	}
	mustPublishAs(t, r, fs, kr, "vision-cls", "1.1.0+team.1", AddOptions{Role: "vision"})
	_, err = publishAs(t, r, fs, kr, "vision-cls", "1.1.0", AddOptions{Role: "vision"})
	if !errors.Is(err, ErrVersionExists) || !strings.Contains(err.Error(), "the published 1.1.0+team.1") {
		t.Fatalf("into the role, next to a version of the role: %v", err)
	}
	requireVerifies(t, fs, dir, t0)
}

// TestVerifyReportsEqualPrecedence: a repository that lists two versions
// of equal precedence anyway (signed by a tool other than mrepo, here the
// team's key) fails verify with VERSION_AMBIGUOUS on the second.
func TestVerifyReportsEqualPrecedence(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	team := teamKey(t, "vision")
	if _, err := r.Delegate(plusKeys(f.kr, team), delegation.Options{Name: "vision", Paths: modelPatterns(t, "vision-*"), Keys: []*metadata.Key{team.Public}}); err != nil {
		t.Fatal(err)
	}
	mustPublishAs(t, r, fs, teamKeyring(t, team), "vision-cls", "1.0.0", AddOptions{Role: "vision"})
	requireVerifies(t, fs, dir, t0)
	const dup = "models/vision-cls/1.0.0+b.1/manifest.json"
	forgeRole(t, fs, dir, t0, "vision", keys.MemKeyring{}.Add(team), func(md *metadata.Metadata[metadata.TargetsType]) {
		tf := *md.Signed.Targets["models/vision-cls/1.0.0/manifest.json"]
		c, err := targets.ParseCustom(tf.Path, tf.Custom)
		if err != nil {
			t.Fatal(err)
		}
		c.Version = "1.0.0+b.1"
		if tf.Custom, err = c.Marshal(); err != nil {
			t.Fatal(err)
		}
		tf.Path = dup
		md.Signed.Targets[dup] = &tf
	})
	rep := verifyAt(t, fs, dir, t0)
	if !hasProblem(rep, audit.VersionAmbiguous, "", dup) {
		t.Fatalf("problems %v, want %s on %s", problemCodes(rep), audit.VersionAmbiguous, dup)
	}
	for _, p := range rep.Problems {
		if p.Code == audit.VersionAmbiguous && !strings.Contains(p.Message, "vision-cls 1.0.0+b.1 has the same precedence as vision-cls 1.0.0") {
			t.Fatalf("message %q", p.Message)
		}
	}
}
