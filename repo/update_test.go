package repo

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestEveryWriterCleansStaleTemporaries plants the temporary files a
// crashed writer leaves behind and runs each writer: every one of them
// goes through update, which removes them.
func TestEveryWriterCleansStaleTemporaries(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	team := teamKey(t, "vision")
	writers := []struct {
		name  string
		setup func(t *testing.T, r *Repository) // before the temporaries are planted
		run   func(r *Repository) error
	}{
		{name: "add-target", run: func(r *Repository) error {
			writeBundle(t, r.fs, "/bundles/det-3.0.0", detManifest("3.0.0"), detFiles("3.0.0"))
			_, err := r.AddTarget("/bundles/det-3.0.0", f.kr, AddOptions{})
			return err
		}},
		{name: "timestamp", run: func(r *Repository) error { _, err := r.Timestamp(f.kr); return err }},
		{name: "snapshot", run: func(r *Repository) error { _, err := r.Snapshot(f.kr); return err }},
		{name: "targets", run: func(r *Repository) error { _, err := r.Targets(f.kr); return err }},
		{name: "delegate", run: func(r *Repository) error {
			_, err := r.Delegate(f.kr, delegation.Options{Name: "vision", Paths: modelPatterns(t, "vision-*"), Keys: []*metadata.Key{team.Public}})
			return err
		}},
		{name: "resign-role", setup: func(t *testing.T, r *Repository) {
			if _, err := r.Delegate(plusKeys(f.kr, team), delegation.Options{Name: "vision", Paths: modelPatterns(t, "vision-*"), Keys: []*metadata.Key{team.Public}}); err != nil {
				t.Fatal(err)
			}
		}, run: func(r *Repository) error {
			_, err := r.ResignRole("vision", teamKeyring(t, team), ResignOptions{})
			return err
		}},
		{name: "rotate", run: func(r *Repository) error {
			_, err := r.Rotate(withKeys(f.kr, team), RotateOptions{Role: metadata.TIMESTAMP, AddKeys: []*metadata.Key{team.Public}})
			return err
		}},
		{name: "stage", run: func(r *Repository) error { _, err := r.Stage(metadata.TIMESTAMP); return err }},
		{name: "sign-staged", setup: stageTimestamp, run: func(r *Repository) error {
			_, err := r.SignStaged(metadata.TIMESTAMP, f.kr, staged.SignOptions{})
			return err
		}},
		{name: "merge-signatures", setup: stageTimestamp, run: func(r *Repository) error {
			copyData, err := afero.ReadFile(r.fs, StagedPath(r.dir, metadata.TIMESTAMP))
			if err != nil {
				return err
			}
			_, err = r.MergeSignatures(metadata.TIMESTAMP, map[string][]byte{"copy.json": copyData})
			return err
		}},
		{name: "publish-staged", setup: func(t *testing.T, r *Repository) {
			stageTimestamp(t, r)
			if _, err := r.SignStaged(metadata.TIMESTAMP, f.kr, staged.SignOptions{}); err != nil {
				t.Fatal(err)
			}
		}, run: func(r *Repository) error { _, err := r.PublishStaged(metadata.TIMESTAMP, f.kr); return err }},
		{name: "rollout-controls", run: func(r *Repository) error {
			_, err := ctlSet(r, "det", "2.0.0", f.kr, rollout.SetOptions{BasisPoints: 500})
			return err
		}},
	}
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			fs, dir := clone(t, publishedTree)
			r := openAt(t, fs, dir, t0)
			if w.setup != nil {
				w.setup(t, r)
			}
			var planted []string
			for _, d := range []string{MetadataDir, TargetsDir, filepath.Join(TargetsDir, "models", "det"), StagedDir} {
				p := filepath.Join(dir, d, atomicfs.TempPrefix+"crashed")
				if err := fs.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := afero.WriteFile(fs, p, []byte("half a file"), 0o644); err != nil {
					t.Fatal(err)
				}
				planted = append(planted, p)
			}
			if err := w.run(r); err != nil {
				t.Fatal(err)
			}
			for _, p := range planted {
				if _, err := fs.Stat(p); !os.IsNotExist(err) {
					t.Errorf("%s survived %s (stat: %v)", p, w.name, err)
				}
			}
		})
	}
}

func stageTimestamp(t *testing.T, r *Repository) {
	t.Helper()
	if _, err := r.Stage(metadata.TIMESTAMP); err != nil {
		t.Fatal(err)
	}
}

// renameRecorder records, in order, the final names that files are
// renamed to: with atomicfs, the instant each file becomes visible.
type renameRecorder struct {
	afero.Fs
	mu    sync.Mutex
	names []string
}

func (r *renameRecorder) Rename(oldname, newname string) error {
	if err := r.Fs.Rename(oldname, newname); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names = append(r.names, newname)
	return nil
}

func (r *renameRecorder) written(dir string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.names {
		rel, _ := filepath.Rel(dir, n)
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

// checkWriteOrder checks that got writes target files first, then the
// metadata files want, in that order, and nothing else.
func checkWriteOrder(t *testing.T, got []string, want []string) {
	t.Helper()
	var meta []string
	for i, p := range got {
		if strings.HasPrefix(p, TargetsDir+"/") {
			if len(meta) > 0 {
				t.Errorf("target file %s written after metadata %v (write %d)", p, meta, i)
			}
			continue
		}
		meta = append(meta, p)
	}
	if !slices.Equal(meta, want) {
		t.Errorf("metadata written in the order %v, want %v", meta, want)
	}
	if !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, TargetsDir+"/") }) {
		t.Errorf("no target file written: %v", got)
	}
}

// TestWriteOrder records the order in which a publication makes files
// visible: target files, then delegated roles, targets, snapshot, and
// timestamp.json last.
func TestWriteOrder(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	t.Run("add-target", func(t *testing.T) {
		t.Parallel()
		fs, dir := clone(t, publishedTree)
		rec := &renameRecorder{Fs: fs}
		r := openAt(t, rec, dir, t0)
		writeBundle(t, fs, "/bundles/det-3.0.0", detManifest("3.0.0"), detFiles("3.0.0"))
		if _, err := r.AddTarget("/bundles/det-3.0.0", f.kr, AddOptions{DeltaFrom: []string{"2.0.0"}}); err != nil {
			t.Fatal(err)
		}
		checkWriteOrder(t, rec.written(dir), []string{"metadata/4.targets.json", "metadata/4.snapshot.json", "metadata/timestamp.json"})
	})
	t.Run("delegated", func(t *testing.T) {
		t.Parallel()
		fs, dir := clone(t, publishedTree)
		team := teamKey(t, "vision")
		r := openAt(t, fs, dir, t0)
		if _, err := r.Delegate(plusKeys(f.kr, team), delegation.Options{Name: "vision", Paths: modelPatterns(t, "vision-*"), Keys: []*metadata.Key{team.Public}}); err != nil {
			t.Fatal(err)
		}
		rec := &renameRecorder{Fs: fs}
		r = openAt(t, rec, dir, t0)
		writeBundle(t, fs, "/bundles/vision-cls-1.0.0", strings.ReplaceAll(detManifest("1.0.0"), `"det"`, `"vision-cls"`), detFiles("1.0.0"))
		if _, err := r.AddTarget("/bundles/vision-cls-1.0.0", teamKeyring(t, team), AddOptions{Role: "vision"}); err != nil {
			t.Fatal(err)
		}
		checkWriteOrder(t, rec.written(dir), []string{"metadata/2.vision.json", "metadata/5.snapshot.json", "metadata/timestamp.json"})
	})
}
