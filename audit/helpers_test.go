package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// t0 is the clock the fixture's targets, snapshot and timestamp are signed
// at. The template's root is signed at the real time of its ceremony, just
// after t0, so t0 is the real time too, taken once.
var t0 = time.Now()

// fixture is a repository made by mrepo's writer (internal/testrepo):
// init, then det 1.0.0 and det 2.0.0 published, whose model.onnx files
// have equal lengths and different contents. The auditor is tested from
// the outside, as a third party would use it: only the files and the keys.
type fixture struct {
	fs       afero.Fs
	dir      string
	kr       keys.MemKeyring // the online keys (targets, snapshot, timestamp)
	rootKey  *keys.Key
	rootJSON []byte // metadata/1.root.json, the root to pin
}

func published(t testing.TB) *fixture {
	t.Helper()
	r, rootKeys := testrepo.NewWithRootKeys(t, 1, 1)
	r.SetNow(func() time.Time { return t0 })
	for _, v := range []string{"1.0.0", "2.0.0"} {
		r.Publish(t, "det", v, detFiles(v), targets.Compat{
			Variant: "lite", Platforms: []string{"linux/arm64", "android/*"},
			Runtime: &targets.Runtime{Name: "onnxruntime", MinVersion: "1.17"},
		})
	}
	f := &fixture{fs: afero.NewOsFs(), dir: r.Dir, kr: r.Keys, rootJSON: r.Root}
	for _, k := range rootKeys {
		f.rootKey = k
	}
	return f
}

func detFiles(version string) map[string][]byte {
	return map[string][]byte{
		"model.onnx": bytes.Repeat([]byte("weights "+version+" "), 1000),
		"labels.txt": []byte("cat\ndog\n" + version + "\n"),
	}
}

func (f *fixture) meta(name string) string {
	return filepath.Join(f.dir, repofiles.MetadataDir, name)
}

// state is the published metadata as a client reaches it from
// timestamp.json (signatures not checked).
type state struct {
	root      *metadata.Metadata[metadata.RootType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	targets   *metadata.Metadata[metadata.TargetsType]
}

func current(t testing.TB, f *fixture) *state {
	t.Helper()
	vs, err := repofiles.RootVersions(f.fs, filepath.Join(f.dir, repofiles.MetadataDir))
	if err != nil || len(vs) == 0 {
		t.Fatalf("root versions %v: %v", vs, err)
	}
	st := &state{}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var e error
	st.root, e = metadata.Root().FromBytes(readAll(t, f.fs, f.meta(fmt.Sprintf("%d.root.json", vs[len(vs)-1]))))
	check(e)
	st.timestamp, e = metadata.Timestamp().FromBytes(readAll(t, f.fs, f.meta("timestamp.json")))
	check(e)
	st.snapshot, e = metadata.Snapshot().FromBytes(readAll(t, f.fs, f.meta(fmt.Sprintf("%d.snapshot.json", st.timestamp.Signed.Meta["snapshot.json"].Version))))
	check(e)
	st.targets, e = metadata.Targets().FromBytes(readAll(t, f.fs, f.meta(fmt.Sprintf("%d.targets.json", st.snapshot.Signed.Meta["targets.json"].Version))))
	check(e)
	return st
}

// signAndWrite signs md with the fixture's keys for a top-level role and
// writes it to metadata/name, returning the meta entry a parent would
// record.
func signAndWrite[T metadata.Roles](t testing.TB, f *fixture, name, role string, md *metadata.Metadata[T], version int64) *metadata.MetaFiles {
	t.Helper()
	root, err := metadata.Root().FromBytes(f.rootJSON)
	if err != nil {
		t.Fatal(err)
	}
	md.ClearSignatures()
	for _, id := range root.Signed.Roles[role].KeyIDs {
		s, err := f.kr.Signer(id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := md.Sign(s); err != nil {
			t.Fatal(err)
		}
	}
	data, err := md.ToBytes(true)
	if err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(f.fs, f.meta(name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return &metadata.MetaFiles{Version: version, Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
}

// republish applies mutate to the current state and publishes new
// targets, snapshot and timestamp versions, properly signed: whatever
// mutate does is then signed and consistent, metadata-wise.
func republish(t *testing.T, f *fixture, mutate func(st *state)) {
	t.Helper()
	st := current(t, f)
	mutate(st)
	st.targets.Signed.Version++
	tv := st.targets.Signed.Version
	st.snapshot.Signed.Meta["targets.json"] = signAndWrite(t, f, fmt.Sprintf("%d.targets.json", tv), metadata.TARGETS, st.targets, tv)
	st.snapshot.Signed.Version++
	sv := st.snapshot.Signed.Version
	st.timestamp.Signed.Meta["snapshot.json"] = signAndWrite(t, f, fmt.Sprintf("%d.snapshot.json", sv), metadata.SNAPSHOT, st.snapshot, sv)
	st.timestamp.Signed.Version++
	signAndWrite(t, f, "timestamp.json", metadata.TIMESTAMP, st.timestamp, 0)
}

// targetFile is where a target's bytes live on disk.
func targetFile(f *fixture, targetPath string, sha []byte) string {
	return filepath.Join(f.dir, repofiles.TargetsDir, filepath.FromSlash(repofiles.ConsistentName(targetPath, sha)))
}

// findTarget is the file of a signed target.
func findTarget(t testing.TB, f *fixture, targetPath string) string {
	t.Helper()
	tf := current(t, f).targets.Signed.Targets[targetPath]
	if tf == nil {
		t.Fatalf("%s is not signed", targetPath)
	}
	return targetFile(f, targetPath, tf.Hashes["sha256"])
}

// replaceTarget stores new bytes for a target and updates its signed
// length and hash (custom metadata unchanged).
func replaceTarget(t *testing.T, f *fixture, st *state, p string, data []byte) {
	t.Helper()
	sum := sha256.Sum256(data)
	if err := afero.WriteFile(f.fs, targetFile(f, p, sum[:]), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tf := st.targets.Signed.Targets[p]
	tf.Length, tf.Hashes = int64(len(data)), metadata.Hashes{"sha256": sum[:]}
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// editJSON rewrites a JSON file through a generic map, leaving its
// signatures as they are.
func editJSON(t testing.TB, fs afero.Fs, name string, edit func(m map[string]any)) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readAll(t, fs, name), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(fs, name, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func signedOf(m map[string]any) map[string]any { return m["signed"].(map[string]any) }

// readAll is afero.ReadFile that fails the test.
func readAll(t testing.TB, fs afero.Fs, name string) []byte {
	t.Helper()
	data, err := afero.ReadFile(fs, name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func requireVerifies(t testing.TB, f *fixture, now time.Time) *Report {
	t.Helper()
	rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: now})
	if !rep.OK() {
		t.Fatalf("Verify found problems:\n%s", problemList(rep))
	}
	return rep
}

func problemList(rep *Report) string {
	var lines []string
	for _, p := range rep.Problems {
		lines = append(lines, "  "+p.String())
	}
	return strings.Join(lines, "\n")
}
