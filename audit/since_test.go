package audit

import (
	"fmt"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// binned is a repository whose targets delegates to 8 hash bins: det
// 1.0.0 published, then (since, the snapshot version after it) det 1.1.0.
func binned(t *testing.T) (f *fixture, since int64) {
	t.Helper()
	r, rootKeys := testrepo.NewWithRootKeys(t, 1, 1)
	r.SetNow(func() time.Time { return t0 })
	binKey, binPub := testrepo.TeamKey(t, "bins")
	r.Delegate(t, delegation.Options{Bins: 8, NamePrefix: "bins", Keys: []*metadata.Key{binPub}}, binKey)
	kr := r.Keyring(binKey)
	r.PublishAs(t, kr, "det", "1.0.0", detFiles("1.0.0"), targets.Compat{}, repo.AddOptions{})
	f = &fixture{fs: afero.NewOsFs(), dir: r.Dir, kr: r.Keys, rootJSON: r.Root}
	for _, k := range rootKeys {
		f.rootKey = k
	}
	since = current(t, f).snapshot.Signed.Version
	r.PublishAs(t, kr, "det", "1.1.0", detFiles("1.1.0"), targets.Compat{}, repo.AddOptions{})
	return f, since
}

// binOf is the file of a target signed in a hash bin.
func binOf(t *testing.T, f *fixture, p string) string {
	t.Helper()
	st := current(t, f)
	bin := st.targets.Signed.Delegations.SuccinctRoles.GetRolesForTarget(p)[0].Name
	md, err := metadata.Targets().FromBytes(readAll(t, f.fs, f.meta(fmt.Sprintf("%d.%s.json", st.snapshot.Signed.Meta[bin+".json"].Version, bin))))
	if err != nil {
		t.Fatal(err)
	}
	return targetFile(f, p, md.Signed.Targets[p].Hashes["sha256"])
}

// TestVerifySince: an incremental verify from the snapshot before det
// 1.1.0 reads only the bins that changed and hashes only 1.1.0's three
// targets; a damaged 1.1.0 file is reported, a damaged 1.0.0 file
// (published before the baseline, its bin's entry unchanged) is not
// looked at (a full verify finds it).
func TestVerifySince(t *testing.T) {
	t.Parallel()
	f, since := binned(t)
	rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0, Since: since})
	if !rep.OK() {
		t.Fatalf("problems:\n%s", problemList(rep))
	}
	// 1.1.0's three targets and the model's version index.
	if rep.Targets != 4 || rep.Since != since || rep.RolesSkipped < 5 {
		t.Errorf("incremental report: %d targets, since %d, %d roles skipped; want 4, %d, at least 5", rep.Targets, rep.Since, rep.RolesSkipped, since)
	}
	if full := requireVerifies(t, f, t0); full.Targets != 7 || full.RolesSkipped != 0 {
		t.Errorf("full report: %d targets, %d roles skipped", full.Targets, full.RolesSkipped)
	}

	old := binOf(t, f, targets.TargetPath("det", "1.0.0", "labels.txt"))
	if err := afero.WriteFile(f.fs, old, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0, Since: since}); !rep.OK() {
		t.Errorf("a file published before --since was looked at:\n%s", problemList(rep))
	}
	if rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0}); !hasCode(rep, LengthMismatch) {
		t.Errorf("full verify of the damaged 1.0.0 file:\n%s", problemList(rep))
	}

	p := targets.TargetPath("det", "1.1.0", "model.onnx")
	data := readAll(t, f.fs, binOf(t, f, p))
	data[0] ^= 1
	if err := afero.WriteFile(f.fs, binOf(t, f, p), data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep = Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0, Since: since})
	if len(rep.Problems) != 1 || rep.Problems[0].Code != HashMismatch || rep.Problems[0].Target != p {
		t.Errorf("damaged 1.1.0 file, incremental:\n%s", problemList(rep))
	}
}

// TestVerifySinceBaseline: a baseline that cannot serve (missing, newer
// than the current snapshot) is SINCE_INVALID, and nothing else is
// checked; a role whose version went down since the baseline is
// ROLE_ROLLED_BACK.
func TestVerifySinceBaseline(t *testing.T) {
	t.Parallel()
	f, since := binned(t)
	cur := current(t, f).snapshot.Signed.Version
	for _, s := range []int64{cur + 1, 999} {
		rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0, Since: s})
		if len(rep.Problems) != 1 || rep.Problems[0].Code != SinceInvalid || rep.Targets != 0 {
			t.Errorf("--since %d: %d targets,\n%s", s, rep.Targets, problemList(rep))
		}
	}
	if err := afero.WriteFile(f.fs, f.meta(fmt.Sprintf("%d.snapshot.json", since)), []byte(`{"signed":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0, Since: since}); !hasCode(rep, SinceInvalid) {
		t.Errorf("unparsable baseline:\n%s", problemList(rep))
	}

	// Roll the bin of det's version index (signed by both publications)
	// back to its first version, older than the baseline's, in a newly
	// signed snapshot.
	f2, since2 := binned(t)
	var rolled string
	republish(t, f2, func(st *state) {
		rolled = st.targets.Signed.Delegations.SuccinctRoles.GetRolesForTarget(targets.VersionIndexPath("det"))[0].Name
		st.snapshot.Signed.Meta[rolled+".json"] = &metadata.MetaFiles{Version: 1}
	})
	rep := Verify(f2.fs, f2.dir, f2.rootJSON, Options{Now: t0, Since: since2})
	if !hasCode(rep, RoleRolledBack) || rolled == "" {
		t.Errorf("bin %s rolled back:\n%s", rolled, problemList(rep))
	}
}

func hasCode(rep *Report, c Code) bool {
	for _, p := range rep.Problems {
		if p.Code == c {
			return true
		}
	}
	return false
}

// TestVerifySinceForgedBaselineRole: someone who can write to the
// repository damages a target det 1.1.0 changed (the model's version
// index) and adds its new entry to the baseline's version of its bin, so
// that the target looks unchanged since the baseline. The baseline's bin
// no longer verifies, so the target is hashed all the same.
func TestVerifySinceForgedBaselineRole(t *testing.T) {
	t.Parallel()
	f, since := binned(t)
	st := current(t, f)
	p := targets.VersionIndexPath("det")
	bin := st.targets.Signed.Delegations.SuccinctRoles.GetRolesForTarget(p)[0].Name
	cur, err := metadata.Targets().FromBytes(readAll(t, f.fs, f.meta(fmt.Sprintf("%d.%s.json", st.snapshot.Signed.Meta[bin+".json"].Version, bin))))
	if err != nil {
		t.Fatal(err)
	}
	base, err := metadata.Snapshot().FromBytes(readAll(t, f.fs, f.meta(fmt.Sprintf("%d.snapshot.json", since))))
	if err != nil {
		t.Fatal(err)
	}
	baseFile := f.meta(fmt.Sprintf("%d.%s.json", base.Signed.Meta[bin+".json"].Version, bin))
	old, err := metadata.Targets().FromBytes(readAll(t, f.fs, baseFile))
	if err != nil {
		t.Fatal(err)
	}
	if sameTarget(old.Signed.Targets[p], cur.Signed.Targets[p]) {
		t.Fatalf("%s did not change in 1.1.0", p)
	}
	old.Signed.Targets[p] = cur.Signed.Targets[p]
	data, err := old.ToBytes(false)
	if err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(f.fs, baseFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	index := binOf(t, f, p)
	data = readAll(t, f.fs, index)
	data[len(data)-2] ^= 1
	if err := afero.WriteFile(f.fs, index, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0, Since: since})
	if !hasCode(rep, HashMismatch) {
		t.Errorf("damaged %s behind a forged baseline bin, incremental verify:\n%s", p, problemList(rep))
	}
}
