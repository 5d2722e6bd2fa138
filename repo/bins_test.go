package repo

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/repoconfig"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// binReads counts the hash bins' metadata files a repository reads.
type binReads struct {
	afero.Fs
	n atomic.Int64
}

var binFile = regexp.MustCompile(`/metadata/[0-9]+\.bins-[0-9a-f]+\.json$`)

func (b *binReads) Open(name string) (afero.File, error) {
	if binFile.MatchString(name) {
		b.n.Add(1)
	}
	return b.Fs.Open(name)
}

func (b *binReads) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 && binFile.MatchString(name) {
		b.n.Add(1)
	}
	return b.Fs.OpenFile(name, flag, perm)
}

// loadedTree is r's current state, signatures checked, and its whole
// delegation tree.
func loadedTree(t testing.TB, r *Repository) (*state, *delegation.Tree) {
	t.Helper()
	st, err := r.load()
	if err != nil {
		t.Fatal(err)
	}
	tree, err := r.loadTree(st)
	if err != nil {
		t.Fatal(err)
	}
	return st, tree
}

// indexOf reads the version index of modelID as a device resolves it.
func indexOf(t testing.TB, r *Repository, modelID string) []string {
	t.Helper()
	_, tree := loadedTree(t, r)
	res := tree.Resolve(targets.VersionIndexPath(modelID))
	if res.Target == nil {
		t.Fatalf("no version index of %s", modelID)
	}
	vi, err := r.targetStore().VersionIndex(modelID, res.Target)
	if err != nil {
		t.Fatal(err)
	}
	return vi.Versions
}

// binOf is the bin a target path hashes to in the repository's bins.
func binOf(t testing.TB, fs afero.Fs, dir, p string) string {
	t.Helper()
	return current(t, fs, dir).targets.Signed.Delegations.SuccinctRoles.GetRolesForTarget(p)[0].Name
}

// TestMigrateBins: mrepo bins migrate moves every top-level target into
// its bin, signed by the targets key, with a version index per model, in
// one publication that verifies; the snapshot records 256 bins by
// version only; a later add-target reads only the bins it needs (not all
// 256) and updates the index.
func TestMigrateBins(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree) // det 1.0.0 and 2.0.0, top-level
	r := openAt(t, fs, dir, t0)
	mustPublishAs(t, r, fs, f.kr, "other", "0.1.0", AddOptions{})
	before := len(current(t, fs, dir).targets.Signed.Targets)

	if _, err := r.MigrateBins(f.kr, MigrateOptions{Count: 3}); !errors.Is(err, ErrDelegation) {
		t.Fatalf("3 bins: %v", err)
	}
	if _, err := r.MigrateBins(keysFor(t, metadata.SNAPSHOT, metadata.TIMESTAMP), MigrateOptions{}); !errors.Is(err, ErrThreshold) {
		t.Fatalf("without the targets key: %v", err)
	}
	res, err := r.MigrateBins(f.kr, MigrateOptions{Threshold: 500})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bins != 256 || res.Moved != before || res.Models != 2 || res.NamePrefix != BinsPrefix {
		t.Fatalf("result %+v (moved: want %d)", res, before)
	}
	st := current(t, fs, dir)
	if n := len(st.targets.Signed.Targets); n != 0 {
		t.Fatalf("top-level targets still lists %d targets", n)
	}
	for name, mf := range st.snapshot.Signed.Meta {
		if name != "targets.json" && (mf.Length != 0 || len(mf.Hashes) != 0 || mf.Version != 1) {
			t.Fatalf("snapshot entry %s: %+v, want version 1 only", name, mf)
		}
	}
	if n := len(st.snapshot.Signed.Meta); n != 257 {
		t.Fatalf("snapshot lists %d roles", n)
	}
	requireVerifies(t, fs, dir, t0)
	if got := indexOf(t, r, "det"); !slices.Equal(got, []string{"1.0.0", "2.0.0"}) {
		t.Fatalf("det index %v", got)
	}
	if r2 := openAt(t, fs, dir, t0); r2.cfg.Bins == nil || r2.cfg.Bins.Threshold != 500 || !r2.cfg.Bins.Indexed {
		t.Fatalf("mrepo.json bins %+v", r2.cfg.Bins)
	}
	if _, err := r.MigrateBins(f.kr, MigrateOptions{}); !errors.Is(err, ErrDelegation) {
		t.Fatalf("migrating twice: %v", err)
	}

	counted := &binReads{Fs: fs}
	rc := openAt(t, counted, dir, t0)
	ar := mustPublishAs(t, rc, counted, f.kr, "det", "3.0.0", AddOptions{DeltaFrom: []string{"2.0.0"}})
	// The index's bin, the 3 manifests', the payloads' of 2.0.0 and
	// 3.0.0 and the patch's: at most 10 of 256.
	if n := counted.n.Load(); n == 0 || n > 10 {
		t.Fatalf("add-target read %d bins", n)
	}
	if len(ar.RoleVersions) == 0 || ar.Versions.Targets != st.targets.Signed.Version {
		t.Fatalf("add result %+v: bins only, targets unchanged", ar)
	}
	if got := indexOf(t, r, "det"); !slices.Equal(got, []string{"1.0.0", "2.0.0", "3.0.0"}) {
		t.Fatalf("det index after 3.0.0: %v", got)
	}
	// A new model's first version: no index, and mrepo.json says every
	// model in the bins has one, so only the new paths' bins are read.
	counted.n.Store(0)
	mustPublishAs(t, rc, counted, f.kr, "fresh", "1.0.0", AddOptions{})
	if n := counted.n.Load(); n == 0 || n > 4 {
		t.Fatalf("a new model's first add-target read %d bins", n)
	}
	if got := indexOf(t, r, "fresh"); !slices.Equal(got, []string{"1.0.0"}) {
		t.Fatalf("fresh index %v", got)
	}
	if _, err := publishAs(t, rc, counted, f.kr, "det", "2.5.0", AddOptions{}); !errors.Is(err, ErrVersionNotNewer) {
		t.Fatalf("an older version, checked from the index's versions: %v", err)
	}
	if _, err := publishAs(t, rc, counted, f.kr, "det", "3.0.0", AddOptions{}); !errors.Is(err, ErrVersionExists) {
		t.Fatalf("the same version: %v", err)
	}
	requireVerifies(t, fs, dir, t0)
}

// TestAddTargetMigratesPastThreshold: with the bins threshold of
// mrepo.json passed, add-target moves the targets into bins first, in the
// same publication, and the repository verifies.
func TestAddTargetMigratesPastThreshold(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree) // 2 versions x 3 targets
	r := openAt(t, fs, dir, t0)
	if r.cfg.Bins == nil || r.cfg.Bins.Threshold != repoconfig.DefaultBinsThreshold {
		t.Fatalf("init wrote bins %+v", r.cfg.Bins)
	}
	r.cfg.Bins = &repoconfig.Bins{Threshold: 7, Count: 4}
	// 6 targets + 2 (a payload and the manifest) is above 7.
	ar := mustPublishAs(t, r, fs, f.kr, "det", "3.0.0", AddOptions{})
	if len(ar.Warnings) == 0 || len(ar.RoleVersions) != 4 {
		t.Fatalf("no migration: %+v", ar)
	}
	st := current(t, fs, dir)
	if len(st.targets.Signed.Targets) != 0 || st.targets.Signed.Delegations.SuccinctRoles == nil {
		t.Fatal("targets not moved into bins")
	}
	requireVerifies(t, fs, dir, t0)
	if got := indexOf(t, r, "det"); !slices.Equal(got, []string{"1.0.0", "2.0.0", "3.0.0"}) {
		t.Fatalf("det index %v", got)
	}
	mustPublishAs(t, r, fs, f.kr, "det", "4.0.0", AddOptions{DeltaFrom: []string{"3.0.0"}})
	requireVerifies(t, fs, dir, t0)
}

// TestMigrateBinsInterrupted: a migration that fails at any write leaves
// the repository as it was (it verifies, every target still top-level),
// and running it again completes it.
func TestMigrateBinsInterrupted(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	for n := 1; ; n++ {
		mem, dir := clone(t, publishedTree)
		ffs := &faultFs{Fs: mem, failAt: n}
		_, err := openAt(t, ffs, dir, t0).MigrateBins(f.kr, MigrateOptions{Count: 4})
		if err == nil {
			if n < 8 {
				t.Fatalf("only %d mutating steps in a migration", ffs.ops)
			}
			t.Logf("%d faults injected", n-1)
			return
		}
		if !errors.Is(err, errInjected) {
			t.Fatalf("step %d: %v", n, err)
		}
		requireVerifies(t, mem, dir, t0)
		st := current(t, mem, dir)
		if st.targets.Signed.Delegations == nil {
			if len(st.targets.Signed.Targets) != 6 {
				t.Fatalf("step %d: top-level targets lists %d targets", n, len(st.targets.Signed.Targets))
			}
		} else if len(st.targets.Signed.Targets) != 0 {
			t.Fatalf("step %d: migrated but targets still lists targets", n)
		}
		if st.targets.Signed.Delegations == nil {
			if _, err := openAt(t, mem, dir, t0).MigrateBins(f.kr, MigrateOptions{Count: 4}); err != nil {
				t.Fatalf("step %d: migrating again: %v", n, err)
			}
			requireVerifies(t, mem, dir, t0)
		}
		if n > 200 {
			t.Fatal("MigrateBins never completes")
		}
	}
}

// migratedRepo is publishedTree migrated to 4 bins (signed by the targets
// key, so the fixture's keyring can forge them).
func migratedRepo(t *testing.T) (afero.Fs, string, *Repository) {
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	if _, err := r.MigrateBins(getFixture(t).kr, MigrateOptions{Count: 4}); err != nil {
		t.Fatal(err)
	}
	return fs, dir, r
}

// forgeIndex replaces det's version index, in bin (its own if ""), by one
// naming versions, signed by the bins' key holder.
func forgeIndex(t *testing.T, fs afero.Fs, dir string, r *Repository, bin string, versions []string) {
	ipath := targets.VersionIndexPath("det")
	own := binOf(t, fs, dir, ipath)
	tf, err := r.targetStore().PutVersionIndex("det", versions)
	if err != nil {
		t.Fatal(err)
	}
	if bin == "" {
		bin = own
	} else {
		forgeRole(t, fs, dir, t0, own, getFixture(t).kr, func(md *metadata.Metadata[metadata.TargetsType]) { delete(md.Signed.Targets, ipath) })
	}
	forgeRole(t, fs, dir, t0, bin, getFixture(t).kr, func(md *metadata.Metadata[metadata.TargetsType]) { md.Signed.Targets[ipath] = tf })
}

// TestVersionIndexAttacks: verify reports an index that names a version
// that does not exist, one that leaves a published version out, and an
// index (or any target) in a bin its path does not hash to.
func TestVersionIndexAttacks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		bin      string
		versions []string
		want     audit.Code
	}{
		{"names a version that does not exist", "", []string{"1.0.0", "2.0.0", "9.0.0"}, audit.VersionIndexMismatch},
		{"leaves a version out", "", []string{"1.0.0"}, audit.VersionIndexMismatch},
		{"in the wrong bin", "other", []string{"1.0.0", "2.0.0"}, audit.DelegationViolation},
		{"removed", "none", nil, audit.VersionIndexMismatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fs, dir, r := migratedRepo(t)
			bin := c.bin
			if bin == "other" {
				own := binOf(t, fs, dir, targets.VersionIndexPath("det"))
				for _, b := range []string{"bins-0", "bins-1"} {
					if b != own {
						bin = b
						break
					}
				}
			}
			if bin == "none" {
				ipath := targets.VersionIndexPath("det")
				forgeRole(t, fs, dir, t0, binOf(t, fs, dir, ipath), getFixture(t).kr, func(md *metadata.Metadata[metadata.TargetsType]) { delete(md.Signed.Targets, ipath) })
				mustPublishAs(t, r, fs, getFixture(t).kr, "other", "1.0.0", AddOptions{}) // an index of another model
			} else {
				forgeIndex(t, fs, dir, r, bin, c.versions)
			}
			rep := verifyAt(t, fs, dir, t0)
			found := false
			for _, p := range rep.Problems {
				found = found || p.Code == c.want
			}
			if !found {
				t.Fatalf("problems %v, want %s", problemCodes(rep), c.want)
			}
		})
	}
}

// TestBinsStaleTempFiles: in a repository with hash bins, writers do not
// walk targets/ (every version's directory), and add-target removes the
// temporary files a crashed writer left under the model it publishes;
// those of metadata/ are removed by every writer, as before.
func TestBinsStaleTempFiles(t *testing.T) {
	t.Parallel()
	fs, dir, r := migratedRepo(t)
	var planted []string
	for _, d := range []string{MetadataDir, filepath.Join(TargetsDir, "models", "det"), filepath.Join(TargetsDir, "models", "det", "1.0.0")} {
		p := filepath.Join(dir, d, atomicfs.TempPrefix+"crashed")
		if err := afero.WriteFile(fs, p, []byte("half a file"), 0o644); err != nil {
			t.Fatal(err)
		}
		planted = append(planted, p)
	}
	mustPublishAs(t, r, fs, getFixture(t).kr, "det", "3.0.0", AddOptions{})
	for _, p := range planted {
		if _, err := fs.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived add-target (stat: %v)", p, err)
		}
	}
	requireVerifies(t, fs, dir, t0)
}

// TestBinsWithoutIndexReadEveryBin: in a repository whose bins older
// mrepo versions filled (mrepo.json without "indexed"), a model without
// a version index is checked against every bin, so its unindexed
// versions still count.
func TestBinsWithoutIndexReadEveryBin(t *testing.T) {
	t.Parallel()
	fs, dir, r := migratedRepo(t)
	ipath := targets.VersionIndexPath("det")
	forgeRole(t, fs, dir, t0, binOf(t, fs, dir, ipath), getFixture(t).kr, func(md *metadata.Metadata[metadata.TargetsType]) { delete(md.Signed.Targets, ipath) })
	r = openAt(t, fs, dir, t0)
	r.cfg.Bins.Indexed = false
	if _, err := publishAs(t, r, fs, getFixture(t).kr, "det", "1.5.0", AddOptions{}); !errors.Is(err, ErrVersionNotNewer) {
		t.Fatalf("an older version of an unindexed model: %v", err)
	}
	mustPublishAs(t, r, fs, getFixture(t).kr, "det", "3.0.0", AddOptions{})
	if got := indexOf(t, r, "det"); !slices.Equal(got, []string{"1.0.0", "2.0.0", "3.0.0"}) {
		t.Fatalf("det index rebuilt from every bin: %v", got)
	}
	requireVerifies(t, fs, dir, t0)
}

// TestIndexLeftOutVersionCaught: the bins' key holder signs an index of
// det that leaves 2.0.0 out. add-target reads only the bins of the
// versions the index names, so it does not see 2.0.0: it accepts 1.5.0
// (refused against the true index) and its new index still leaves 2.0.0
// out (docs/error-codes.md, VERSION_INDEX_MISMATCH). mrepo verify after
// that publication reports the left-out version: the net under that
// limitation.
func TestIndexLeftOutVersionCaught(t *testing.T) {
	t.Parallel()
	fs, dir, r := migratedRepo(t)
	forgeIndex(t, fs, dir, r, "", []string{"1.0.0"})
	r = openAt(t, fs, dir, t0)
	// A version whose own bins list 2.0.0 sees it (add-target reads the
	// new version's bins whole) and is refused: take the first that
	// does not share a bin with 2.0.0's entries.
	var err error
	for _, v := range []string{"1.5.0", "1.6.0", "1.7.0", "1.8.0", "1.9.0", "1.5.1", "1.6.1", "1.7.1"} {
		if _, err = publishAs(t, r, fs, getFixture(t).kr, "det", v, AddOptions{}); !errors.Is(err, ErrVersionNotNewer) {
			break
		}
	}
	if err != nil {
		t.Fatalf("publishing a version below 2.0.0 behind an index without it: %v (the limitation is gone: update docs/error-codes.md)", err)
	}
	rep := verifyAt(t, fs, dir, t0)
	found := false
	for _, p := range rep.Problems {
		found = found || p.Code == audit.VersionIndexMismatch && strings.Contains(p.Message, "2.0.0")
	}
	if !found {
		t.Fatalf("verify after the publication: %v, want VERSION_INDEX_MISMATCH naming 2.0.0", problemCodes(rep))
	}
}

// TestUnsignedBinReadNotTouched: in a repository of 256 bins (the
// snapshot records them by version only), someone who can write to the
// repository edits in place a bin that add-target reads but does not
// re-sign (the bin of det 1.0.0's manifest, read for the version checks
// and the new index): for example to list a made-up det version, which
// would then block lower versions and be named by the new, signed index.
// add-target must check the signatures of every bin it reads, not only of
// those it writes: refused, nothing published.
func TestUnsignedBinReadNotTouched(t *testing.T) {
	t.Parallel()
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	if _, err := r.MigrateBins(getFixture(t).kr, MigrateOptions{Count: 256}); err != nil {
		t.Fatal(err)
	}
	bin := binOf(t, fs, dir, targets.ManifestPath("det", "1.0.0"))
	for _, p := range []string{targets.VersionIndexPath("det"), targets.ManifestPath("det", "3.0.0"), targets.TargetPath("det", "3.0.0", "model.bin")} {
		if binOf(t, fs, dir, p) == bin {
			t.Fatalf("%s is in %s too: the publication would re-sign it", p, bin)
		}
	}
	spoilBin(t, fs, dir, bin, false) // lazy_test.go: its signatures no longer match
	before := current(t, fs, dir).snapshot.Signed.Version
	r = openAt(t, fs, dir, t0)
	if _, err := publishAs(t, r, fs, getFixture(t).kr, "det", "3.0.0", AddOptions{}); !errors.Is(err, ErrStoredMetadata) {
		t.Fatalf("add-target reading an unsigned bin: %v, want ErrStoredMetadata", err)
	}
	if v := current(t, fs, dir).snapshot.Signed.Version; v != before {
		t.Errorf("snapshot %d published (was %d)", v, before)
	}
}

// askedKeyring records, for each key asked for, how many bins had been
// read by then.
type askedKeyring struct {
	keys.Keyring
	reads *binReads
	asked map[string][]int64
}

func (k *askedKeyring) Signer(keyID string) (signature.Signer, error) {
	k.asked[keyID] = append(k.asked[keyID], k.reads.n.Load())
	return k.Keyring.Signer(keyID)
}

// TestBinsSignersBeforeBins: add-target into hash bins asks for its keys
// before it reads any bin (decrypting a key file takes scrypt's block,
// which must not come on top of the parsed bins), and for each key once.
func TestBinsSignersBeforeBins(t *testing.T) {
	t.Parallel()
	fs, dir, _ := migratedRepo(t)
	counted := &binReads{Fs: fs}
	kr := &askedKeyring{Keyring: getFixture(t).kr, reads: counted, asked: map[string][]int64{}}
	mustPublishAs(t, openAt(t, counted, dir, t0), counted, kr, "det", "3.0.0", AddOptions{})
	if counted.n.Load() == 0 || len(kr.asked) == 0 {
		t.Fatalf("read %d bins, asked for %d keys", counted.n.Load(), len(kr.asked))
	}
	for id, reads := range kr.asked {
		if len(reads) != 1 || reads[0] != 0 {
			t.Errorf("key %s asked for %d times, after %v bin reads", keys.ShortID(id), len(reads), reads)
		}
	}
	requireVerifies(t, fs, dir, t0)
}
