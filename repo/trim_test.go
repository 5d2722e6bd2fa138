package repo

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// A writer of one model keeps, of the bins it reads only for the model's
// versions, the model's entries alone (delegation.LoadForModel,
// Role.Trimmed; docs/design.md section 13).

// mixedBins is publishedTree (det 1.0.0 and 2.0.0) in 4 bins with three
// versions of another model, cls, so that bins list both models.
func mixedBins(t *testing.T) (afero.Fs, string) {
	t.Helper()
	fs, dir, r := migratedRepo(t)
	for _, v := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		if _, err := publishAs(t, r, fs, getFixture(t).kr, "cls", v, AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return fs, dir
}

// allTargets lists every target path the whole tree signs.
func allTargets(t *testing.T, fs afero.Fs, dir string) []string {
	t.Helper()
	_, tree := loadedTree(t, openAt(t, fs, dir, t0))
	return slices.Sorted(maps.Keys(tree.Effective()))
}

// TestModelBinsTrimmed: the bins LoadForModel reads for det's versions
// keep det's entries only, and say so: another model's path there
// resolves as blocked (never as absent), checking or re-signing such a
// bin fails, and reading its paths again (AddBins) reads it whole.
func TestModelBinsTrimmed(t *testing.T) {
	t.Parallel()
	fs, dir := mixedBins(t)
	full := allTargets(t, fs, dir)
	r := openAt(t, fs, dir, t0)
	st := current(t, fs, dir)
	mr := r.modelRead("det")
	mr.Payloads = true
	tree, found, err := delegation.LoadForModel(fs, dir, st.targets, st.snapshot, mr)
	if err != nil || !found {
		t.Fatalf("LoadForModel: found %v, %v", found, err)
	}
	ibin := binOf(t, fs, dir, targets.VersionIndexPath("det"))
	var trimmed *delegation.Role
	var lost string
	for _, name := range tree.Order {
		n := tree.Roles[name]
		if n.Trimmed() == (name == ibin) {
			t.Errorf("bin %s: trimmed %v (the index's bin is %s)", name, n.Trimmed(), ibin)
		}
		if !n.Trimmed() {
			continue
		}
		for p := range n.Meta.Signed.Targets {
			if !strings.HasPrefix(p, "models/det/") {
				t.Errorf("trimmed bin %s lists %s", name, p)
			}
		}
		for _, p := range full {
			if binOf(t, fs, dir, p) == name && !strings.HasPrefix(p, "models/det/") {
				trimmed, lost = n, p
			}
		}
	}
	if trimmed == nil {
		t.Fatal("no trimmed bin lists another model's target: the fixture tests nothing")
	}
	if res := tree.Resolve(lost); res.Target != nil || res.Blocked != trimmed.Name {
		t.Errorf("Resolve(%s) in trimmed %s: %+v, want blocked there", lost, trimmed.Name, res)
	}
	if err := tree.CheckSigned(trimmed); !errors.Is(err, delegation.ErrDelegation) {
		t.Errorf("CheckSigned(trimmed %s): %v, want ErrDelegation", trimmed.Name, err)
	}
	if err := tree.CheckAllSigned(); err != nil {
		t.Errorf("CheckAllSigned (trimmed bins checked as read): %v", err)
	}
	if ws := tree.ShadowWarnings(); !slices.ContainsFunc(ws, func(w string) bool { return strings.Contains(w, trimmed.Name) }) {
		t.Errorf("ShadowWarnings does not name trimmed %s: %q", trimmed.Name, ws)
	}
	if err := tree.AddBins(fs, dir, st.snapshot, []string{lost}); err != nil {
		t.Fatal(err)
	}
	if n := tree.Roles[trimmed.Name]; n.Trimmed() || tree.Resolve(lost).Role != trimmed.Name {
		t.Errorf("AddBins(%s) did not read %s whole again", lost, trimmed.Name)
	}
	if err := tree.CheckAllSigned(); err != nil {
		t.Errorf("CheckAllSigned after reading %s whole: %v", trimmed.Name, err)
	}
}

// TestPublishIntoTrimmedBinKeepsItsTargets: publications of det whose
// new paths hash into bins that were read trimmed re-sign those bins
// whole: every target of every model is still signed afterwards.
func TestPublishIntoTrimmedBinKeepsItsTargets(t *testing.T) {
	t.Parallel()
	fs, dir := mixedBins(t)
	before := allTargets(t, fs, dir)
	for _, v := range []string{"3.0.0", "4.0.0", "5.0.0"} {
		if _, err := publishAs(t, openAt(t, fs, dir, t0), fs, getFixture(t).kr, "det", v, AddOptions{DeltaFrom: []string{"2.0.0"}}); err != nil {
			t.Fatal(err)
		}
	}
	after := allTargets(t, fs, dir)
	for _, p := range before {
		if !slices.Contains(after, p) {
			t.Errorf("%s is no longer signed after det's publications", p)
		}
	}
	if _, err := openAt(t, fs, dir, t0).ChangeControls("cls", "2.0.0", getFixture(t).kr, controlChanges(t)["2 halt"]); err != nil {
		t.Fatal(err)
	}
	for _, p := range after {
		if !slices.Contains(allTargets(t, fs, dir), p) {
			t.Errorf("%s is no longer signed after a control change of cls", p)
		}
	}
}

// TestTrimmedBinNotResigned: a bin still trimmed is refused as a bin to
// re-sign (BinsFor), whatever reads it whole or not.
func TestTrimmedBinNotResigned(t *testing.T) {
	t.Parallel()
	fs, dir := mixedBins(t)
	st := current(t, fs, dir)
	mr := openAt(t, fs, dir, t0).modelRead("det")
	tree, _, err := delegation.LoadForModel(fs, dir, st.targets, st.snapshot, mr)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range tree.Order {
		n := tree.Roles[name]
		for p := range n.Meta.Signed.Targets {
			_, err := tree.BinsFor(tree.HashBins(), []string{p})
			if n.Trimmed() != errors.Is(err, delegation.ErrDelegation) {
				t.Errorf("BinsFor(%s) in bin %s (trimmed %v): %v", p, name, n.Trimmed(), err)
			}
		}
	}
}
