package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// expiresPattern is the only expiry format python-tuf accepts.
var expiresPattern = regexp.MustCompile(`"expires":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"`)

func TestInitDefaults(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs := copyOf(t, initTree)

	// Exactly these files, with these modes.
	got := fileSnapshot(t, fs, "/")
	var names []string
	for p, v := range got {
		if !strings.HasSuffix(p, "/") {
			names = append(names, p+" "+strings.Fields(v)[1])
		}
	}
	want := []string{
		"keys/root-1.key -rw-------", "keys/root-1.pub -rw-r--r--",
		"keys/snapshot.key -rw-------", "keys/snapshot.pub -rw-r--r--",
		"keys/targets.key -rw-------", "keys/targets.pub -rw-r--r--",
		"keys/timestamp.key -rw-------", "keys/timestamp.pub -rw-r--r--",
		"repo/metadata/1.root.json -rw-r--r--", "repo/metadata/1.snapshot.json -rw-r--r--",
		"repo/metadata/1.targets.json -rw-r--r--", "repo/metadata/timestamp.json -rw-r--r--",
		"repo/mrepo.json -rw-r--r--",
	}
	sort.Strings(names)
	if !reflect.DeepEqual(names, want) {
		t.Errorf("files after Init:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if fi, err := fs.Stat("/repo/targets"); err != nil || !fi.IsDir() {
		t.Errorf("targets/ directory: %v", err)
	}

	// One passphrase for the online keys and one per root key, each
	// confirmed, all asked before anything is written.
	if len(f.asked) != 2 || !strings.HasPrefix(f.asked[0], "online keys") || !strings.HasPrefix(f.asked[1], "root key root-1") {
		t.Errorf("passphrase requests: %q", f.asked)
	}
	for _, a := range f.asked {
		if !strings.HasSuffix(a, "confirm=true") {
			t.Errorf("passphrase for a new key not confirmed: %q", a)
		}
	}

	// The result.
	res := f.res
	sum := sha256.Sum256(f.rootJSON)
	if res.RootSHA256 != hex.EncodeToString(sum[:]) || res.RootFile != "/repo/metadata/1.root.json" || res.Repository != "/repo" {
		t.Errorf("result: %+v", res)
	}
	if res.RootThreshold != 1 || len(res.RootKeyIDs) != 1 || len(res.Keys) != 4 {
		t.Errorf("result keys: %+v", res)
	}

	// Root: version 1, consistent snapshots, one distinct key and
	// threshold 1 per role, self-signed by its root key.
	root, err := metadata.Root().FromBytes(f.rootJSON)
	if err != nil {
		t.Fatal(err)
	}
	if root.Signed.Version != 1 || !root.Signed.ConsistentSnapshot {
		t.Errorf("root version %d, consistent_snapshot %v", root.Signed.Version, root.Signed.ConsistentSnapshot)
	}
	seen := map[string]string{}
	for _, info := range res.Keys {
		role := root.Signed.Roles[info.Role]
		if role == nil || role.Threshold != 1 || len(role.KeyIDs) != 1 || role.KeyIDs[0] != info.KeyID {
			t.Errorf("role %s: %+v, key %s", info.Role, role, info.KeyID)
		}
		if other, dup := seen[info.KeyID]; dup {
			t.Errorf("roles %s and %s share a key", other, info.Role)
		}
		seen[info.KeyID] = info.Role
		if root.Signed.Keys[info.KeyID] == nil {
			t.Errorf("key %s of %s not in root", info.KeyID, info.Role)
		}
	}
	if root.Signed.Roles[metadata.ROOT].KeyIDs[0] != res.RootKeyIDs[0] {
		t.Error("root key ID differs from the result")
	}
	checkRootSignedByAll(t, root)

	// Every role at version 1, chained by length and hash, with expiries
	// from the default lifetimes, in whole seconds, UTC.
	st := current(t, fs, repoDir)
	for _, c := range []struct {
		role    string
		version int64
		expires time.Time
		want    time.Time
	}{
		{metadata.ROOT, st.root.Signed.Version, st.root.Signed.Expires, expiryAt(t0, DefaultExpiry.Root)},
		{metadata.TARGETS, st.targets.Signed.Version, st.targets.Signed.Expires, expiryAt(t0, DefaultExpiry.Targets)},
		{metadata.SNAPSHOT, st.snapshot.Signed.Version, st.snapshot.Signed.Expires, expiryAt(t0, DefaultExpiry.Snapshot)},
		{metadata.TIMESTAMP, st.timestamp.Signed.Version, st.timestamp.Signed.Expires, expiryAt(t0, DefaultExpiry.Timestamp)},
	} {
		if c.version != 1 {
			t.Errorf("%s version %d, want 1", c.role, c.version)
		}
		if !c.expires.Equal(c.want) || c.expires.Nanosecond() != 0 {
			t.Errorf("%s expires %v, want %v", c.role, c.expires, c.want)
		}
	}
	if want := time.Date(2031, 1, 2, 2, 4, 5, 0, time.UTC); !st.root.Signed.Expires.Equal(want) {
		t.Errorf("root expires %v, want %v", st.root.Signed.Expires, want)
	}
	for _, name := range []string{"1.root.json", "1.targets.json", "1.snapshot.json", "timestamp.json"} {
		data := readAll(t, fs, filepath.Join(repoDir, MetadataDir, name))
		if m := expiresPattern.FindAll(compactJSON(t, data), -1); len(m) != 1 {
			t.Errorf("%s: expires not in YYYY-MM-DDTHH:MM:SSZ form:\n%s", name, data)
		}
	}
	checkChain(t, fs, repoDir, st)

	// The configuration holds the default lifetimes.
	r, err := Open(fs, repoDir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Config().Expiry != DefaultExpiry {
		t.Errorf("config expiry %+v", r.Config().Expiry)
	}

	// Key files are encrypted, and decrypt (with the passphrase only) to
	// the keys root names.
	for _, info := range res.Keys {
		data := readAll(t, fs, filepath.Join(keysDir, info.Name+keys.KeySuffix))
		if bytes.Contains(data, []byte("PRIVATE KEY")) {
			t.Errorf("%s: plaintext private key", info.Name)
		}
		kf, err := keys.ParseFile(data)
		if err != nil || kf.KeyID != info.KeyID {
			t.Fatalf("%s: %v (key ID %s)", info.Name, err, kf.KeyID)
		}
		if f.kr[info.KeyID] == nil {
			t.Errorf("%s did not decrypt with the passphrase", info.Name)
		}
		pub := readAll(t, fs, filepath.Join(keysDir, info.Name+keys.PubSuffix))
		if k, err := keys.ParsePublic(pub); err != nil || mustKeyID(k) != info.KeyID {
			t.Errorf("%s.pub: %v", info.Name, err)
		}
	}
	kf, _ := keys.ParseFile(readAll(t, fs, filepath.Join(keysDir, "timestamp.key")))
	if _, err := kf.Decrypt([]byte("test-only-wrong-passphrase")); !errors.Is(err, keys.ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v", err)
	}

	requireVerifies(t, fs, repoDir, t0)
}

func compactJSON(t testing.TB, data []byte) []byte {
	return bytes.Join(bytes.Fields(data), nil)
}

func mustKeyID(k *metadata.Key) string {
	id, _ := k.ID()
	return id
}

// checkRootSignedByAll checks that every root key made a valid signature.
func checkRootSignedByAll(t *testing.T, root *metadata.Metadata[metadata.RootType]) {
	t.Helper()
	if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
		t.Errorf("root does not verify: %v", err)
	}
	payload, err := cjson.EncodeCanonical(root.Signed)
	if err != nil {
		t.Fatal(err)
	}
	ids := root.Signed.Roles[metadata.ROOT].KeyIDs
	if len(root.Signatures) != len(ids) {
		t.Errorf("%d signatures for %d root keys", len(root.Signatures), len(ids))
	}
	for _, id := range ids {
		ok := false
		for _, s := range root.Signatures {
			if s.KeyID == id && keys.Verify(root.Signed.Keys[id], payload, s.Signature) == nil {
				ok = true
			}
		}
		if !ok {
			t.Errorf("no valid signature by root key %s", keys.ShortID(id))
		}
	}
}

// checkChain checks that timestamp records the snapshot file's length and
// hash, and snapshot the targets file's.
func checkChain(t *testing.T, fs afero.Fs, dir string, st *state) {
	t.Helper()
	snapMeta := st.timestamp.Signed.Meta["snapshot.json"]
	snapData := readAll(t, fs, filepath.Join(dir, MetadataDir, itoa(snapMeta.Version)+".snapshot.json"))
	if err := snapMeta.VerifyLengthHashes(snapData); err != nil || snapMeta.Version != st.snapshot.Signed.Version {
		t.Errorf("timestamp's snapshot entry: %v (version %d vs %d)", err, snapMeta.Version, st.snapshot.Signed.Version)
	}
	targMeta := st.snapshot.Signed.Meta["targets.json"]
	targData := readAll(t, fs, filepath.Join(dir, MetadataDir, itoa(targMeta.Version)+".targets.json"))
	if err := targMeta.VerifyLengthHashes(targData); err != nil || targMeta.Version != st.targets.Signed.Version {
		t.Errorf("snapshot's targets entry: %v (version %d vs %d)", err, targMeta.Version, st.targets.Signed.Version)
	}
	if len(snapMeta.Hashes) != 1 || len(targMeta.Hashes) != 1 || snapMeta.Hashes["sha256"] == nil || targMeta.Hashes["sha256"] == nil {
		t.Errorf("meta hashes: %v / %v, want sha256 only", snapMeta.Hashes, targMeta.Hashes)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestInitThresholdsAndOptions(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	var asked []string
	kd := &keys.Dir{FS: fs, Path: "/k", Passphrase: func(purpose string, confirm bool) ([]byte, error) {
		asked = append(asked, purpose)
		return testPassphrase, nil
	}}
	exp := Expiry{Root: duration.Duration(30 * 24 * time.Hour), Targets: duration.Duration(10 * 24 * time.Hour), Snapshot: duration.Duration(2 * 24 * time.Hour), Timestamp: duration.Duration(6 * time.Hour)}
	res, err := Init(fs, "/r", kd, InitOptions{RootKeys: 3, RootThreshold: 2, KeyType: keys.ECDSAP256, Expiry: &exp, Now: clockAt(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 4 || !strings.Contains(asked[3], "root-3 (3 of 3)") {
		t.Errorf("passphrase requests: %q", asked)
	}
	if res.RootThreshold != 2 || len(res.RootKeyIDs) != 3 {
		t.Errorf("result: %+v", res)
	}
	st := current(t, fs, "/r")
	role := st.root.Signed.Roles[metadata.ROOT]
	if role.Threshold != 2 || !reflect.DeepEqual(role.KeyIDs, res.RootKeyIDs) {
		t.Errorf("root role %+v", role)
	}
	for id, k := range st.root.Signed.Keys {
		if k.Type != metadata.KeyTypeECDSA_SHA2_P256 || k.Scheme != metadata.KeySchemeECDSA_SHA2_P256 {
			t.Errorf("key %s is %s/%s", keys.ShortID(id), k.Type, k.Scheme)
		}
	}
	for _, name := range []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if th := st.root.Signed.Roles[name].Threshold; th != 1 {
			t.Errorf("%s threshold %d", name, th)
		}
	}
	checkRootSignedByAll(t, st.root)
	for _, c := range []struct {
		role string
		got  time.Time
		d    duration.Duration
	}{
		{metadata.ROOT, st.root.Signed.Expires, exp.Root},
		{metadata.TARGETS, st.targets.Signed.Expires, exp.Targets},
		{metadata.SNAPSHOT, st.snapshot.Signed.Expires, exp.Snapshot},
		{metadata.TIMESTAMP, st.timestamp.Signed.Expires, exp.Timestamp},
	} {
		if !c.got.Equal(expiryAt(t0, c.d)) {
			t.Errorf("%s expires %v, want %v", c.role, c.got, expiryAt(t0, c.d))
		}
	}
	r, err := Open(fs, "/r")
	if err != nil {
		t.Fatal(err)
	}
	if r.Config().Expiry != exp {
		t.Errorf("config expiry %+v, want %+v", r.Config().Expiry, exp)
	}
	for i := 1; i <= 3; i++ {
		if _, err := fs.Stat("/k/root-" + itoa(int64(i)) + ".key"); err != nil {
			t.Errorf("root key %d: %v", i, err)
		}
	}
	root := readAll(t, fs, "/r/metadata/1.root.json")
	if rep := audit.Verify(fs, "/r", root, audit.Options{Now: t0}); !rep.OK() {
		t.Errorf("Verify: %v", rep.Problems)
	}
}

func TestInitRejectsOptions(t *testing.T) {
	t.Parallel()
	pass := func(string, bool) ([]byte, error) { return testPassphrase, nil }
	short := DefaultExpiry
	short.Timestamp = duration.Duration(30 * time.Minute)
	long := DefaultExpiry
	long.Root = duration.Duration(11 * 365 * 24 * time.Hour)
	for _, c := range []struct {
		name string
		opts InitOptions
		pass keys.PassphraseFunc
		want string
	}{
		{"too many root keys", InitOptions{RootKeys: 33}, pass, "not between 1 and 32"},
		{"negative root keys", InitOptions{RootKeys: -1}, pass, "not between 1 and 32"},
		{"threshold above keys", InitOptions{RootKeys: 2, RootThreshold: 3}, pass, "root threshold 3"},
		{"negative threshold", InitOptions{RootThreshold: -1}, pass, "root threshold -1"},
		{"expiry too short", InitOptions{Expiry: &short}, pass, "shorter than an hour"},
		{"expiry too long", InitOptions{Expiry: &long}, pass, "longer than ten years"},
		{"no passphrase source", InitOptions{}, nil, "no passphrase source"},
		{"passphrase fails", InitOptions{}, func(string, bool) ([]byte, error) { return nil, errors.New("test: no terminal") }, "no terminal"},
		{"unknown key type", InitOptions{KeyType: "rsa"}, pass, "unknown key type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := afero.NewMemMapFs()
			_, err := Init(fs, "/r", &keys.Dir{FS: fs, Path: "/k", Passphrase: c.pass}, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if got := fileSnapshot(t, fs, "/"); len(got) > 1 {
				t.Errorf("Init wrote files although it failed: %v", got)
			}
		})
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	asked := 0
	pass := func(string, bool) ([]byte, error) { asked++; return testPassphrase, nil }
	for _, c := range []struct {
		name  string
		setup func(fs afero.Fs)
		repo  string
		want  string
	}{
		{"existing repository", func(fs afero.Fs) {}, repoDir, "already a repository"},
		{"existing key file", func(fs afero.Fs) {}, "/fresh", "key file /keys/targets.key exists"},
		{"existing public key file only", func(fs afero.Fs) {
			for _, n := range []string{"root-1.key", "targets.key", "snapshot.key", "timestamp.key", "root-1.pub", "targets.pub", "timestamp.pub"} {
				fs.Remove(filepath.Join(keysDir, n))
			}
		}, "/fresh", "snapshot.pub exists"},
		{"interrupted ceremony: metadata without mrepo.json", func(fs afero.Fs) {
			fs.Remove(filepath.Join(repoDir, ConfigFile))
		}, repoDir, "metadata is not empty"},
		{"non-empty targets directory", func(fs afero.Fs) {
			afero.WriteFile(fs, "/other/targets/x", []byte("x"), 0o644)
		}, "/other", "targets is not empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := copyOf(t, initTree)
			c.setup(fs)
			before := fileSnapshot(t, fs, "/")
			asked = 0
			_, err := Init(fs, c.repo, &keys.Dir{FS: fs, Path: keysDir, Passphrase: pass}, InitOptions{Now: clockAt(t0)})
			if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrExists mentioning %q", err, c.want)
			}
			if d := snapshotDiff(before, fileSnapshot(t, fs, "/")); len(d) > 0 {
				t.Errorf("refused Init changed files: %v", d)
			}
			if asked != 0 {
				t.Errorf("asked for %d passphrases before refusing", asked)
			}
		})
	}
}

func TestOpenRejectsNonRepository(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	for name, content := range map[string]string{
		"/missing":   "",
		"/garbage":   "not json",
		"/format":    `{"format":"other","expiry":{"root":"1d","targets":"1d","snapshot":"1d","timestamp":"1d"}}`,
		"/badexpiry": `{"format":"mrepo-config-v1","expiry":{"root":"1d","targets":"1d","snapshot":"1d","timestamp":"1m"}}`,
	} {
		if content != "" {
			afero.WriteFile(fs, filepath.Join(name, ConfigFile), []byte(content), 0o644)
		}
		_, err := Open(fs, name)
		if err == nil {
			t.Errorf("%s: opened", name)
		}
		if name != "/badexpiry" && !errors.Is(err, ErrNotRepository) {
			t.Errorf("%s: %v, want ErrNotRepository", name, err)
		}
	}
}
