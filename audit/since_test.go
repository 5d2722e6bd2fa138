package audit

import (
	"fmt"
	"strings"
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
// targets and det's new version index; a damaged 1.1.0 file is reported, a damaged 1.0.0 file
// (published before the baseline, its bin's entry unchanged) is not
// looked at (a full verify finds it).
func TestVerifySince(t *testing.T) {
	t.Parallel()
	f, since := binned(t)
	rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0, Since: since})
	if !rep.OK() {
		t.Fatalf("problems:\n%s", problemList(rep))
	}
	if rep.Targets != 4 || rep.Since != since || rep.RolesSkipped < 4 {
		t.Errorf("incremental report: %d targets, since %d, %d roles skipped; want 4, %d, at least 4", rep.Targets, rep.Since, rep.RolesSkipped, since)
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

	// Roll a bin back, in a newly signed snapshot, to a version older than
	// the one the baseline records for it.
	f2, since2 := binned(t)
	base, err := metadata.Snapshot().FromBytes(readAll(t, f2.fs, f2.meta(fmt.Sprintf("%d.snapshot.json", since2))))
	if err != nil {
		t.Fatal(err)
	}
	var rolled string
	republish(t, f2, func(st *state) {
		for name, mf := range st.snapshot.Signed.Meta {
			if b := base.Signed.Meta[name]; name != "targets.json" && b != nil && b.Version > 1 {
				mf.Version = b.Version - 1
				rolled = strings.TrimSuffix(name, ".json")
				return
			}
		}
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
