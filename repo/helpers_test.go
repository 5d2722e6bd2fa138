package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/internal/testrepo/treecache"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// testPassphrase is a test-only value; no real secret is used in tests.
var testPassphrase = []byte("test-only-passphrase")

// t0 is the fixed clock of every test repository: not UTC and not on a
// whole second, so that expiry normalisation is visible.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 678_000_000, time.FixedZone("UTC+1", 3600))

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

// expiryAt is what a role signed at now with lifetime d must expire at.
func expiryAt(now time.Time, d duration.Duration) time.Time {
	return now.UTC().Add(time.Duration(d)).Truncate(time.Second)
}

// fixture is what the repository templates share with every copy: made
// once by Init (scrypt makes that slow), never changed afterwards.
type fixture struct {
	res      *InitResult
	kr       keys.MemKeyring // every key of the repository, decrypted
	rootJSON []byte          // metadata/1.root.json, the root to pin
	asked    []string        // passphrase requests during Init
}

// The paths of the templates' trees, as the tests see them in a copy of
// a whole template (initTree.CopyTo(t, fs, "/")).
const (
	repoDir = "/repo"
	keysDir = "/keys"
)

// initTree is /repo and /keys as Init wrote them.
var initTree = treecache.New(func(fs afero.Fs, dir string) (*fixture, error) {
	return makeFixture(afero.NewBasePathFs(fs, dir))
})

// publishedTree is initTree's /repo after publishing det 1.0.0 and det
// 2.0.0, whose model.onnx files have equal lengths and different
// contents; it has no /keys.
var publishedTree = treecache.New(func(fs afero.Fs, dir string) (*fixture, error) {
	f, err := initTree.Copy(fs, dir)
	if err != nil {
		return nil, err
	}
	pub := afero.NewBasePathFs(fs, dir)
	if err := pub.RemoveAll(keysDir); err != nil {
		return nil, err
	}
	r, err := Open(pub, repoDir)
	if err != nil {
		return nil, err
	}
	r.Now = clockAt(t0)
	for _, v := range []string{"1.0.0", "2.0.0"} {
		bundle := "/bundles/det-" + v
		if err := writeBundleFS(pub, bundle, detManifest(v), detFiles(v)); err != nil {
			return nil, err
		}
		if _, err := r.AddTarget(bundle, f.kr, AddOptions{}); err != nil {
			return nil, err
		}
		if err := pub.RemoveAll(bundle); err != nil {
			return nil, err
		}
	}
	return f, pub.RemoveAll("/bundles")
})

func getFixture(t testing.TB) *fixture {
	t.Helper()
	return initTree.Value(t)
}

// makeFixture runs Init into /repo and /keys of fs.
func makeFixture(fs afero.Fs) (*fixture, error) {
	f := &fixture{}
	var mu sync.Mutex
	kd := &keys.Dir{FS: fs, Path: keysDir, Passphrase: func(purpose string, confirm bool) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		f.asked = append(f.asked, fmt.Sprintf("%s confirm=%v", purpose, confirm))
		return testPassphrase, nil
	}}
	res, err := Init(fs, repoDir, kd, InitOptions{Now: clockAt(t0)})
	if err != nil {
		return nil, err
	}
	f.res = res
	if f.rootJSON, err = afero.ReadFile(fs, filepath.Join(repoDir, MetadataDir, "1.root.json")); err != nil {
		return nil, err
	}
	// Decrypt the keys in parallel: four scrypt runs.
	list, err := kd.List()
	if err != nil {
		return nil, err
	}
	f.kr = keys.MemKeyring{}
	var wg sync.WaitGroup
	errs := make([]error, len(list))
	got := make([]*keys.Key, len(list))
	for i, kf := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = kf.Decrypt(testPassphrase)
		}()
	}
	wg.Wait()
	for i := range list {
		if errs[i] != nil {
			return nil, errs[i]
		}
		f.kr.Add(got[i])
	}
	return f, nil
}

func detManifest(version string) string {
	return `{"model_id":"det","version":"` + version + `","variant":"lite","platforms":["linux/arm64","android/*"],` +
		`"runtime":{"name":"onnxruntime","min_version":"1.17"},"annotations":{"run":"42"}}`
}

func detFiles(version string) map[string][]byte {
	return map[string][]byte{
		"model.onnx": bytes.Repeat([]byte("weights "+version+" "), 1000),
		"labels.txt": []byte("cat\ndog\n" + version + "\n"),
	}
}

func writeBundleFS(fs afero.Fs, dir, manifest string, files map[string][]byte) error {
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if manifest != "" {
		if err := afero.WriteFile(fs, filepath.Join(dir, targets.ManifestName), []byte(manifest), 0o644); err != nil {
			return err
		}
	}
	for name, data := range files {
		if err := afero.WriteFile(fs, filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func writeBundle(t testing.TB, fs afero.Fs, dir, manifest string, files map[string][]byte) {
	t.Helper()
	if err := writeBundleFS(fs, dir, manifest, files); err != nil {
		t.Fatal(err)
	}
}

var cloneSeq atomic.Int64

// clone copies a template into a fresh MemMapFs under a directory name of
// its own (the in-process writer lock is keyed by path, so parallel tests
// must not share one) and returns the repository's directory there.
func clone(t testing.TB, tree *treecache.Tree[*fixture]) (afero.Fs, string) {
	t.Helper()
	dst := afero.NewMemMapFs()
	top := fmt.Sprintf("/t%d", cloneSeq.Add(1))
	tree.CopyTo(t, dst, top)
	return dst, top + repoDir
}

// copyOf is a fresh MemMapFs holding a copy of a template at "/": its
// repository at /repo (and, for initTree, its keys at /keys).
func copyOf(t testing.TB, tree *treecache.Tree[*fixture]) afero.Fs {
	t.Helper()
	fs := afero.NewMemMapFs()
	tree.CopyTo(t, fs, "/")
	return fs
}

func openAt(t testing.TB, fs afero.Fs, dir string, now time.Time) *Repository {
	t.Helper()
	r, err := Open(fs, dir)
	if err != nil {
		t.Fatal(err)
	}
	r.Now = clockAt(now)
	r.LockTimeout = 5 * time.Second
	return r
}

// fileSnapshot maps every file and directory under dir to a digest of its
// content and its mode.
func fileSnapshot(t testing.TB, fs afero.Fs, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := afero.Walk(fs, dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if info.IsDir() {
			out[rel+"/"] = "dir " + info.Mode().Perm().String()
			return nil
		}
		data, err := afero.ReadFile(fs, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[rel] = hex.EncodeToString(sum[:8]) + " " + info.Mode().Perm().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshotDiff lists the paths added, removed or changed between a and b.
func snapshotDiff(a, b map[string]string) []string {
	var out []string
	for p, v := range a {
		if w, ok := b[p]; !ok {
			out = append(out, "-"+p)
		} else if w != v {
			out = append(out, "~"+p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			out = append(out, "+"+p)
		}
	}
	sort.Strings(out)
	return out
}

// current reads the repository state as a client reaches it.
func current(t testing.TB, fs afero.Fs, dir string) *state {
	t.Helper()
	st, err := (&Repository{fs: fs, dir: dir}).readState()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func verifyAt(t testing.TB, fs afero.Fs, dir string, now time.Time) *audit.Report {
	t.Helper()
	return audit.Verify(fs, dir, getFixture(t).rootJSON, audit.Options{Now: now})
}

func requireVerifies(t testing.TB, fs afero.Fs, dir string, now time.Time) *audit.Report {
	t.Helper()
	rep := verifyAt(t, fs, dir, now)
	if !rep.OK() {
		t.Fatalf("Verify found problems: %v", rep.Problems)
	}
	return rep
}

// modelTargets lists the target paths of one model version in the current
// targets metadata.
func modelTargets(st *state, modelID, version string) []string {
	var out []string
	for p := range st.targets.Signed.Targets {
		if strings.HasPrefix(p, targets.TargetDir(modelID, version)+"/") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// targetFile is where a target's bytes live on disk.
func targetFile(dir, targetPath string, data []byte) string {
	s := sha256.Sum256(data)
	return filepath.Join(dir, TargetsDir, filepath.FromSlash(consistentName(targetPath, s[:])))
}

// editJSON rewrites a JSON file through a generic map, leaving its
// signatures as they are.
func editJSON(t testing.TB, fs afero.Fs, name string, f func(m map[string]any)) {
	t.Helper()
	data, err := afero.ReadFile(fs, name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(fs, name, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func signedOf(m map[string]any) map[string]any { return m["signed"].(map[string]any) }

// signAndWrite signs md with the fixture's keys for role and writes it to
// metadata/name, returning the meta entry a parent would record.
func signAndWrite[T metadata.Roles](t testing.TB, fs afero.Fs, dir, name, role string, md *metadata.Metadata[T], version int64) *metadata.MetaFiles {
	t.Helper()
	f := getFixture(t)
	root, err := metadata.Root().FromBytes(f.rootJSON)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := gatherSigners(&state{root: root}, f.kr, role)
	if err != nil {
		t.Fatal(err)
	}
	if err := signRole(md, ss[role]); err != nil {
		t.Fatal(err)
	}
	r := &Repository{fs: fs, dir: dir}
	mf, err := r.writeMeta(name, md)
	if err != nil {
		t.Fatal(err)
	}
	mf.Version = version
	return mf
}

// readAll is afero.ReadFile that fails the test.
func readAll(t testing.TB, fs afero.Fs, name string) []byte {
	t.Helper()
	f, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// publish re-signs targets (when newTargets), snapshot (when newSnapshot)
// and timestamp over st, as a writer's transaction commits them, without
// the lock or any check: tests use it to publish what mrepo would refuse.
func (r *Repository) publish(st *state, ss roleSigners, newTargets, newSnapshot bool) (*Versions, error) {
	t := r.newTx(st)
	roles := []string{metadata.TIMESTAMP}
	if newTargets {
		roles = append(roles, metadata.TARGETS)
	}
	if newSnapshot {
		roles = append(roles, metadata.SNAPSHOT)
	}
	t.publish(ss, roles...)
	return t.commit()
}
