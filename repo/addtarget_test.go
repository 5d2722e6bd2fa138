package repo

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/status"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// renameLog records the final names of atomic writes, in order.
type renameLog struct {
	afero.Fs
	mu    sync.Mutex
	names []string
}

func (l *renameLog) Rename(oldname, newname string) error {
	err := l.Fs.Rename(oldname, newname)
	if err == nil {
		l.mu.Lock()
		l.names = append(l.names, newname)
		l.mu.Unlock()
	}
	return err
}

func TestAddTarget(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	mem, dir := clone(t, initTree)
	fs := &renameLog{Fs: mem}
	now := t0.Add(90 * time.Minute)
	r := openAt(t, fs, dir, now)

	labels := []byte("cat\ndog\n")
	model := []byte(strings.Repeat("0123456789abcdef", 4096))
	manifest := `{"model_id":"det","version":"1.0.0","variant":"lite","platforms":["linux/arm64","android/*"],` +
		`"runtime":{"name":"onnxruntime","min_version":"1.17"},"min_app_version":"3.1",` +
		`"input_schema_hash":"SHA256:` + strings.ToUpper(sha([]byte("schema"))) + `","annotations":{"run":"42"},` +
		`"files":[{"path":"model.onnx"},{"path":"labels.txt","sha256":"` + sha(labels) + `","size":8}]}`
	writeBundle(t, fs, "/b1", manifest, map[string][]byte{"model.onnx": model, "labels.txt": labels, "notes.md": []byte("x")})

	var progress []string
	res, err := r.AddTarget("/b1", f.kr, AddOptions{Progress: func(file string, done, total int64) {
		progress = append(progress, fmt.Sprintf("%s %d/%d", file, done, total))
	}})
	if err != nil {
		t.Fatal(err)
	}

	// The result.
	if res.ModelID != "det" || res.Version != "1.0.0" || res.Versions != (Versions{Targets: 2, Snapshot: 2, Timestamp: 2}) {
		t.Errorf("result %+v", res)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "not listed in the manifest, not published: notes.md") {
		t.Errorf("warnings %q", res.Warnings)
	}
	// Files are copied several at once: reports of different files come
	// in any order (one at a time).
	sort.Strings(progress)
	if want := []string{"labels.txt 8/8", "model.onnx 65536/65536"}; !reflect.DeepEqual(progress, want) {
		t.Errorf("progress %q, want %q", progress, want)
	}

	st := current(t, fs, dir)
	published := st.targets.Signed.Targets
	stored := readAll(t, fs, findTarget(t, fs, dir, "models/det/1.0.0/manifest.json"))
	m, err := targets.ParsePublishedManifest(stored)
	if err != nil {
		t.Fatalf("stored manifest: %v", err)
	}
	contents := map[string][]byte{"models/det/1.0.0/model.onnx": model, "models/det/1.0.0/labels.txt": labels, "models/det/1.0.0/manifest.json": stored}
	var wantRes []PublishedTarget
	for _, p := range []string{"models/det/1.0.0/labels.txt", "models/det/1.0.0/manifest.json", "models/det/1.0.0/model.onnx"} {
		wantRes = append(wantRes, PublishedTarget{Path: p, Length: int64(len(contents[p])), SHA256: sha(contents[p])})
	}
	if !reflect.DeepEqual(res.Targets, wantRes) {
		t.Errorf("result targets %+v\nwant %+v", res.Targets, wantRes)
	}

	// Each target is signed with its length and SHA-256 only, and its bytes
	// are under targets/models/<id>/<version>/<sha256>.<name>.
	if len(published) != 3 {
		t.Errorf("%d targets signed, want 3", len(published))
	}
	for p, data := range contents {
		tf := published[p]
		if tf == nil {
			t.Errorf("%s not signed", p)
			continue
		}
		if tf.Length != int64(len(data)) || len(tf.Hashes) != 1 || hex.EncodeToString(tf.Hashes["sha256"]) != sha(data) {
			t.Errorf("%s signed as %d bytes %v", p, tf.Length, tf.Hashes)
		}
		want := filepath.Join(dir, "targets", "models", "det", "1.0.0", sha(data)+"."+filepath.Base(p))
		if got := readAll(t, fs, want); string(got) != string(data) {
			t.Errorf("%s: content at %s differs", p, want)
		}
	}
	if files := fileSnapshot(t, fs, filepath.Join(dir, TargetsDir)); len(files) != 3+4 { // 3 files, 4 directories
		t.Errorf("files under targets/: %v", files)
	}

	// Custom metadata: a payload names its file; the manifest carries the
	// compatibility fields, the build timestamp and the file list.
	for _, name := range []string{"model.onnx", "labels.txt"} {
		p := "models/det/1.0.0/" + name
		c, err := targets.ParseCustom(p, published[p].Custom)
		if err != nil {
			t.Fatal(err)
		}
		want := &targets.Custom{Kind: targets.KindPayload, SchemaVersion: 1, ModelID: "det", Version: "1.0.0", File: name}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("%s custom %+v", p, c)
		}
	}
	mc, err := targets.ParseCustom("models/det/1.0.0/manifest.json", published["models/det/1.0.0/manifest.json"].Custom)
	if err != nil {
		t.Fatal(err)
	}
	wantCompat := targets.Compat{
		Variant: "lite", Platforms: []string{"linux/arm64", "android/*"}, MinAppVersion: "3.1",
		Runtime: &targets.Runtime{Name: "onnxruntime", MinVersion: "1.17"}, InputSchemaHash: sha([]byte("schema")),
	}
	wantCustom := &targets.Custom{
		Kind: targets.KindManifest, SchemaVersion: 1, ModelID: "det", Version: "1.0.0", Compat: wantCompat,
		BuildTimestamp: now.UTC().Format(targets.TimeFormat), Files: []string{"labels.txt", "model.onnx"}, Epoch: 1,
	}
	if !reflect.DeepEqual(mc, wantCustom) {
		t.Errorf("manifest custom\n got %+v\nwant %+v", mc, wantCustom)
	}
	if mc.BuildTimestamp != "2030-01-02T03:34:05Z" {
		t.Errorf("build_timestamp %q", mc.BuildTimestamp)
	}

	// The completed manifest: everything from the bundle, plus every
	// file's hash and size and the build timestamp.
	ml, mm := int64(8), int64(len(model))
	wantManifest := &targets.Manifest{
		SchemaVersion: 1, ModelID: "det", Version: "1.0.0", Compat: wantCompat,
		Annotations: map[string]string{"run": "42"}, BuildTimestamp: wantCustom.BuildTimestamp,
		Files: []targets.FileEntry{{Path: "model.onnx", SHA256: sha(model), Size: &mm}, {Path: "labels.txt", SHA256: sha(labels), Size: &ml}},
	}
	if !reflect.DeepEqual(m, wantManifest) {
		t.Errorf("stored manifest\n got %+v\nwant %+v", m, wantManifest)
	}

	// Versions bumped and chained, expiries from the new clock.
	if st.targets.Signed.Version != 2 || st.snapshot.Signed.Version != 2 || st.timestamp.Signed.Version != 2 {
		t.Errorf("versions %d/%d/%d", st.targets.Signed.Version, st.snapshot.Signed.Version, st.timestamp.Signed.Version)
	}
	checkChain(t, fs, dir, st)
	if !st.targets.Signed.Expires.Equal(expiryAt(now, DefaultExpiry.Targets)) || !st.timestamp.Signed.Expires.Equal(expiryAt(now, DefaultExpiry.Timestamp)) {
		t.Errorf("expiries %v %v", st.targets.Signed.Expires, st.timestamp.Signed.Expires)
	}
	for _, old := range []string{"1.targets.json", "1.snapshot.json"} {
		if _, err := fs.Stat(filepath.Join(dir, MetadataDir, old)); err != nil {
			t.Errorf("%s removed: clients mid-update may still need it", old)
		}
	}

	// Written in order: target files, targets, snapshot, timestamp last.
	var order []string
	for _, n := range fs.names {
		rel, _ := filepath.Rel(dir, n)
		switch {
		case strings.HasPrefix(rel, "targets/"):
			order = append(order, "target")
		default:
			order = append(order, rel)
		}
	}
	if want := []string{"target", "target", "target", "metadata/2.targets.json", "metadata/2.snapshot.json", "metadata/timestamp.json"}; !reflect.DeepEqual(order, want) {
		t.Errorf("write order %q, want %q", order, want)
	}

	rep := requireVerifies(t, fs, dir, now)
	if rep.Targets != 3 || rep.TargetBytes != int64(len(model)+len(labels)+len(stored)) {
		t.Errorf("verify counted %d targets, %d bytes", rep.Targets, rep.TargetBytes)
	}

	// A second version: an explicit build timestamp (normalised), a bundle
	// without a file list (hidden files skipped), versions bumped again.
	writeBundle(t, fs, "/b2", `{"model_id":"det","version":"1.1.0-rc.1","build_timestamp":"2029-12-31T23:00:00-02:00"}`,
		map[string][]byte{"model.onnx": []byte("v1.1"), ".DS_Store": []byte("x"), "z.bin": []byte("z")})
	res2, err := r.AddTarget("/b2", f.kr, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Versions != (Versions{3, 3, 3}) || len(res2.Targets) != 3 || !reflect.DeepEqual(res2.Warnings, []string{"hidden file .DS_Store skipped"}) {
		t.Errorf("second result %+v", res2)
	}
	st = current(t, fs, dir)
	if got := modelTargets(st, "det", "1.0.0"); len(got) != 3 {
		t.Errorf("1.0.0 targets after publishing 1.1.0-rc.1: %q", got)
	}
	if got := modelTargets(st, "det", "1.1.0-rc.1"); !reflect.DeepEqual(got, []string{"models/det/1.1.0-rc.1/manifest.json", "models/det/1.1.0-rc.1/model.onnx", "models/det/1.1.0-rc.1/z.bin"}) {
		t.Errorf("1.1.0-rc.1 targets %q", got)
	}
	c2, _ := targets.ParseCustom("models/det/1.1.0-rc.1/manifest.json", st.targets.Signed.Targets["models/det/1.1.0-rc.1/manifest.json"].Custom)
	if c2 == nil || c2.BuildTimestamp != "2030-01-01T01:00:00Z" || !reflect.DeepEqual(c2.Files, []string{"model.onnx", "z.bin"}) {
		t.Errorf("second manifest custom %+v", c2)
	}
	requireVerifies(t, fs, dir, now)

	// Another model is independent of det's versions.
	writeBundle(t, fs, "/b3", `{"model_id":"cls","version":"0.0.1"}`, map[string][]byte{"w": []byte("w")})
	if _, err := r.AddTarget("/b3", f.kr, AddOptions{}); err != nil {
		t.Fatalf("other model: %v", err)
	}
	sr, err := statusOf(r, status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantModels := []status.Model{{ModelID: "cls", Versions: []string{"0.0.1"}, Latest: "0.0.1", Epochs: map[string]uint64{"0.0.1": 1}},
		{ModelID: "det", Versions: []string{"1.0.0", "1.1.0-rc.1"}, Latest: "1.1.0-rc.1", Epochs: map[string]uint64{"1.0.0": 1, "1.1.0-rc.1": 2}}}
	if !reflect.DeepEqual(sr.Models, wantModels) {
		t.Errorf("status models %+v", sr.Models)
	}
}

// findTarget returns the on-disk path of a signed target.
func findTarget(t testing.TB, fs afero.Fs, dir, targetPath string) string {
	t.Helper()
	tf := current(t, fs, dir).targets.Signed.Targets[targetPath]
	if tf == nil {
		t.Fatalf("%s is not signed", targetPath)
	}
	return filepath.Join(dir, TargetsDir, filepath.FromSlash(consistentName(targetPath, tf.Hashes["sha256"])))
}

// keysFor returns a keyring with only the keys of the given roles.
func keysFor(t testing.TB, roles ...string) keys.MemKeyring {
	f := getFixture(t)
	kr := keys.MemKeyring{}
	st := current(t, copyOf(t, publishedTree), repoDir)
	for _, role := range roles {
		for _, id := range st.root.Signed.Roles[role].KeyIDs {
			kr[id] = f.kr[id]
		}
	}
	return kr
}

// TestAddTargetRefusals: every refused publication changes no file and
// no directory, and the repository still verifies afterwards.
func TestAddTargetRefusals(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	w := []byte("weights")
	wfiles := map[string][]byte{"w.bin": w}
	for _, c := range []struct {
		name     string
		manifest string            // "" = no manifest.json
		files    map[string][]byte // bundle files
		setup    func(fs afero.Fs, dir string)
		bundle   string       // default /bundle
		kr       keys.Keyring // default: every key
		want     error        // errors.Is
		wantMsg  string       // substring
		broken   bool         // the setup breaks the repository itself
	}{
		{name: "version exists", manifest: `{"model_id":"det","version":"2.0.0"}`, files: wfiles, want: ErrVersionExists},
		{name: "same precedence, other build metadata", manifest: `{"model_id":"det","version":"2.0.0+build.5"}`, files: wfiles, want: ErrVersionExists},
		{name: "older version", manifest: `{"model_id":"det","version":"1.5.0"}`, files: wfiles, want: ErrVersionNotNewer},
		{name: "pre-release of the latest", manifest: `{"model_id":"det","version":"2.0.0-rc.1"}`, files: wfiles, want: ErrVersionNotNewer},
		{name: "older than an earlier version", manifest: `{"model_id":"det","version":"0.9.0"}`, files: wfiles, want: ErrVersionNotNewer},
		{name: "unknown manifest field", manifest: `{"model_id":"det","version":"3.0.0","varient":"x"}`, files: wfiles, want: targets.ErrManifest},
		{name: "manifest not JSON", manifest: `model_id: det`, files: wfiles, want: targets.ErrManifest},
		{name: "no manifest", files: wfiles, want: ErrBundle, wantMsg: "manifest.json does not exist"},
		{name: "bundle missing", bundle: "/nope", want: ErrBundle},
		{name: "bundle is a file", bundle: "/bundle/w.bin", manifest: `{"model_id":"det","version":"3.0.0"}`, files: wfiles, want: ErrBundle, wantMsg: "not a directory"},
		{name: "manifest is a directory", files: map[string][]byte{"manifest.json/x": w}, want: ErrBundle, wantMsg: "is a directory"},
		{name: "no payload files", manifest: `{"model_id":"det","version":"3.0.0"}`, want: ErrBundle, wantMsg: "no payload files"},
		{name: "only hidden payload files", manifest: `{"model_id":"det","version":"3.0.0"}`, files: map[string][]byte{".w": w}, want: ErrBundle, wantMsg: "no payload files"},
		{name: "listed file missing", manifest: `{"model_id":"det","version":"3.0.0","files":[{"path":"w.bin"},{"path":"gone.bin"}]}`, files: wfiles, want: ErrBundle, wantMsg: "gone.bin does not exist"},
		{name: "listed path escapes", manifest: `{"model_id":"det","version":"3.0.0","files":[{"path":"../bundle/w.bin"}]}`, files: wfiles, want: targets.ErrManifest, wantMsg: "escapes"},
		{name: "listed absolute path", manifest: `{"model_id":"det","version":"3.0.0","files":[{"path":"/repo/mrepo.json"}]}`, files: wfiles, want: targets.ErrManifest, wantMsg: "absolute"},
		{name: "listed file is a directory", manifest: `{"model_id":"det","version":"3.0.0","files":[{"path":"sub"}]}`, files: map[string][]byte{"sub/x": w}, want: ErrBundle, wantMsg: "is a directory"},
		{name: "subdirectory in an unlisted bundle", manifest: `{"model_id":"det","version":"3.0.0"}`, files: map[string][]byte{"w.bin": w, "sub/x": w}, want: ErrBundle, wantMsg: "sub is a directory"},
		{name: "bad file name in an unlisted bundle", manifest: `{"model_id":"det","version":"3.0.0"}`, files: map[string][]byte{"w.bin": w, "bad name": w}, want: ErrBundle, wantMsg: "bad name"},
		{name: "size mismatch", manifest: `{"model_id":"det","version":"3.0.0","files":[{"path":"w.bin","size":8}]}`, files: wfiles, want: ErrBundle, wantMsg: "the manifest says 8"},
		{name: "sha256 mismatch", manifest: `{"model_id":"det","version":"3.0.0","files":[{"path":"a.bin"},{"path":"w.bin","sha256":"` + sha([]byte("other")) + `"}]}`, files: map[string][]byte{"a.bin": w, "w.bin": w}, want: ErrBundle, wantMsg: "SHA-256"},
		{name: "size mismatch in an existing model directory", manifest: `{"model_id":"det","version":"3.0.0","files":[{"path":"w.bin","size":1}]}`, files: wfiles, want: ErrBundle,
			setup: func(fs afero.Fs, dir string) {
				fs.MkdirAll(filepath.Join(dir, TargetsDir, "models", "det", "3.0.0"), 0o755)
			}},
		{name: "targets key missing", manifest: `{"model_id":"det","version":"3.0.0"}`, files: wfiles, kr: keysFor(t, metadata.SNAPSHOT, metadata.TIMESTAMP), want: ErrThreshold, wantMsg: "targets needs 1"},
		{name: "snapshot key missing", manifest: `{"model_id":"det","version":"3.0.0"}`, files: wfiles, kr: keysFor(t, metadata.TARGETS, metadata.TIMESTAMP), want: ErrThreshold, wantMsg: "snapshot needs 1"},
		{name: "timestamp key missing", manifest: `{"model_id":"det","version":"3.0.0"}`, files: wfiles, kr: keysFor(t, metadata.TARGETS, metadata.SNAPSHOT), want: ErrThreshold, wantMsg: "timestamp needs 1"},
		{name: "only the root key", manifest: `{"model_id":"det","version":"3.0.0"}`, files: wfiles, kr: keysFor(t, metadata.ROOT), want: ErrThreshold},
		{name: "stored targets metadata edited", manifest: `{"model_id":"det","version":"3.0.0"}`, files: wfiles, want: ErrStoredMetadata, broken: true,
			setup: func(fs afero.Fs, dir string) {
				editJSON(t, fs, filepath.Join(dir, MetadataDir, "3.targets.json"), func(m map[string]any) {
					signedOf(m)["targets"].(map[string]any)["models/det/1.0.0/model.onnx"].(map[string]any)["length"] = 1
				})
			}},
		{name: "stored timestamp missing", manifest: `{"model_id":"det","version":"3.0.0"}`, files: wfiles, want: ErrStoredMetadata, broken: true,
			setup: func(fs afero.Fs, dir string) { fs.Remove(filepath.Join(dir, MetadataDir, "timestamp.json")) }},
		{name: "newest root not signed by itself", manifest: `{"model_id":"det","version":"3.0.0"}`, files: wfiles, want: ErrStoredMetadata, broken: true,
			setup: func(fs afero.Fs, dir string) {
				root := readAll(t, fs, filepath.Join(dir, MetadataDir, "1.root.json"))
				afero.WriteFile(fs, filepath.Join(dir, MetadataDir, "2.root.json"), root, 0o644)
				editJSON(t, fs, filepath.Join(dir, MetadataDir, "2.root.json"), func(m map[string]any) { signedOf(m)["version"] = 2 })
			}},
		{name: "newest root has an unusable key", manifest: `{"model_id":"det","version":"3.0.0"}`, files: wfiles, want: ErrStoredMetadata, broken: true,
			setup: func(fs afero.Fs, dir string) {
				afero.WriteFile(fs, filepath.Join(dir, MetadataDir, "2.root.json"), shortKeyRoot(t, 2), 0o644)
			}},
		{name: "repository locked", manifest: `{"model_id":"det","version":"3.0.0"}`, files: wfiles, want: ErrLocked,
			wantMsg: fmt.Sprintf("BUSY: repository is locked by another process (PID %d holds ", os.Getpid())},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, dir := clone(t, publishedTree)
			writeBundle(t, fs, "/bundle", c.manifest, c.files)
			if c.setup != nil {
				c.setup(fs, dir)
			}
			r := openAt(t, fs, dir, t0.Add(time.Hour))
			if c.want == ErrLocked {
				holder := openAt(t, fs, dir, t0)
				unlock, err := holder.lock()
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
				r.LockTimeout = 50 * time.Millisecond
			}
			before := fileSnapshot(t, fs, dir)
			bundle := c.bundle
			if bundle == "" {
				bundle = "/bundle"
			}
			var kr keys.Keyring = f.kr
			if c.kr != nil {
				kr = c.kr
			}
			res, err := r.AddTarget(bundle, kr, AddOptions{})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v (result %+v), want %v", err, res, c.want)
			}
			if c.wantMsg != "" && !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error %q does not mention %q", err, c.wantMsg)
			}
			if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(d) > 0 {
				t.Errorf("refused AddTarget changed the repository: %v", d)
			}
			if !c.broken {
				requireVerifies(t, fs, dir, t0.Add(time.Hour))
			}
		})
	}
}

// TestAddTargetSymlinks runs on the OS filesystem: a bundle must not
// smuggle in a file from elsewhere through a symlink.
func TestAddTargetSymlinks(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	base := t.TempDir()
	fs := afero.NewOsFs()
	dir := filepath.Join(base, "repo")
	publishedTree.CopyTo(t, fs, base)
	secret := filepath.Join(base, "secret")
	os.WriteFile(secret, []byte("not for publication"), 0o600)
	for name, c := range map[string]struct {
		manifest string
		link     string
		linkTo   string
	}{
		"listed payload symlink":   {`{"model_id":"det","version":"3.0.0","files":[{"path":"w.bin"}]}`, "w.bin", secret},
		"unlisted payload symlink": {`{"model_id":"det","version":"3.0.0"}`, "w.bin", secret},
		"manifest symlink":         {"", "manifest.json", secret},
	} {
		t.Run(name, func(t *testing.T) {
			bundle := filepath.Join(base, strings.ReplaceAll(name, " ", "-"))
			writeBundle(t, fs, bundle, c.manifest, map[string][]byte{"ok.bin": []byte("ok")})
			if err := os.Symlink(c.linkTo, filepath.Join(bundle, c.link)); err != nil {
				t.Skip("symlinks unsupported:", err)
			}
			before := fileSnapshot(t, fs, dir)
			r := openAt(t, fs, dir, t0)
			_, err := r.AddTarget(bundle, f.kr, AddOptions{})
			if !errors.Is(err, ErrBundle) || !strings.Contains(err.Error(), "symlink") {
				t.Fatalf("err = %v, want ErrBundle about a symlink", err)
			}
			if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(d) > 0 {
				t.Errorf("changed: %v", d)
			}
		})
	}
	requireVerifies(t, fs, dir, t0)
}

// faultFs fails the n-th mutating operation (creating or opening a file
// for writing, chmod, mkdir, rename), as a full disk or an I/O error
// would, and counts them.
type faultFs struct {
	afero.Fs
	failAt int
	ops    int
}

var errInjected = errors.New("injected fault")

func (f *faultFs) step(op string) error {
	f.ops++
	if f.ops == f.failAt {
		return fmt.Errorf("%s: %w", op, errInjected)
	}
	return nil
}

func (f *faultFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE) != 0 {
		if err := f.step("open " + name); err != nil {
			return nil, err
		}
	}
	return f.Fs.OpenFile(name, flag, perm)
}

func (f *faultFs) Create(name string) (afero.File, error) {
	if err := f.step("create " + name); err != nil {
		return nil, err
	}
	return f.Fs.Create(name)
}

func (f *faultFs) Rename(o, n string) error {
	if err := f.step("rename " + n); err != nil {
		return err
	}
	return f.Fs.Rename(o, n)
}

func (f *faultFs) Chmod(name string, mode os.FileMode) error {
	if err := f.step("chmod " + name); err != nil {
		return err
	}
	return f.Fs.Chmod(name, mode)
}

func (f *faultFs) MkdirAll(name string, perm os.FileMode) error {
	if err := f.step("mkdir " + name); err != nil {
		return err
	}
	return f.Fs.MkdirAll(name, perm)
}

func (f *faultFs) Mkdir(name string, perm os.FileMode) error {
	if err := f.step("mkdir " + name); err != nil {
		return err
	}
	return f.Fs.Mkdir(name, perm)
}

// TestAddTargetFaultAtEveryStep fails each filesystem write of a
// publication in turn. Whatever fails, the repository still verifies, the
// version is either completely published or absent, and publishing again
// works. With deltas, the steps include writing each patch (published or
// skipped, whose temporary file and directories are removed again).
func TestAddTargetFaultAtEveryStep(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	for _, c := range []struct {
		name     string
		manifest string
		files    map[string][]byte
		opts     AddOptions
		targets  int // when published
	}{
		{name: "plain", manifest: `{"model_id":"det","version":"3.0.0","variant":"lite"}`,
			files: map[string][]byte{"a.bin": []byte(strings.Repeat("a", 3000)), "b.bin": []byte("b")}, targets: 3},
		// 2.0.0's model.onnx, a little changed: its patch is published; the
		// patch of labels.txt (too small to gain) and the one from 1.0.0 of
		// w.bin (not in 1.0.0) are not.
		{name: "deltas", manifest: `{"model_id":"det","version":"3.0.0","variant":"lite"}`,
			files: map[string][]byte{"model.onnx": append(detFiles("2.0.0")["model.onnx"], "retrained"...), "labels.txt": []byte("cat\ndog\nbird\n"), "w.bin": []byte("w")},
			opts:  AddOptions{DeltaFrom: []string{"1.0.0", "2.0.0"}}, targets: 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			published, absent := 0, 0
			for n := 1; ; n++ {
				mem, dir := clone(t, publishedTree)
				writeBundle(t, mem, "/bundle", c.manifest, c.files)
				ffs := &faultFs{Fs: mem, failAt: n}
				r := openAt(t, ffs, dir, t0)
				res, err := r.AddTarget("/bundle", f.kr, c.opts)
				if err == nil {
					if ffs.ops >= n {
						t.Fatalf("step %d: fault injected but AddTarget succeeded", n)
					}
					if n < 10 {
						t.Fatalf("only %d mutating steps in a publication", ffs.ops)
					}
					if len(res.Targets) != c.targets {
						t.Fatalf("published %d targets, want %d: %+v", len(res.Targets), c.targets, res.Targets)
					}
					t.Logf("%d faults injected: %d left the version absent, %d struck after publication", n-1, absent, published)
					return
				}
				if !errors.Is(err, errInjected) {
					t.Fatalf("step %d: err = %v, want the injected fault", n, err)
				}
				requireVerifies(t, mem, dir, t0)
				got := modelTargets(current(t, mem, dir), "det", "3.0.0")
				switch len(got) {
				case 0:
					absent++
					r2 := openAt(t, mem, dir, t0)
					if _, err := r2.AddTarget("/bundle", f.kr, c.opts); err != nil {
						t.Fatalf("step %d: publishing again: %v", n, err)
					}
					requireVerifies(t, mem, dir, t0)
					if got := modelTargets(current(t, mem, dir), "det", "3.0.0"); len(got) != c.targets {
						t.Fatalf("step %d: published again: %q", n, got)
					}
				case c.targets:
					published++
				default:
					t.Fatalf("step %d: version partially published: %q", n, got)
				}
				if n > 300 {
					t.Fatal("AddTarget never completes")
				}
			}
		})
	}
}
