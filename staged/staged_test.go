package staged_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// These tests use only the package's public API, as an air-gapped
// signer's tool or the repository writer does. The repository's own use
// of staged files (stage, publish-staged, rotation) is tested in repo.

var expires = time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)

// world is a small set of keys and roots: root v1 has root key a alone
// (threshold 1); root v2 adds b and needs both. The online roles share
// one key, online.
type world struct {
	a, b, online, stranger *keys.Key
	v1, v2                 *metadata.Metadata[metadata.RootType]
}

func genKey(t testing.TB, name string) *keys.Key {
	t.Helper()
	k, err := keys.Generate(name, keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ring(ks ...*keys.Key) keys.MemKeyring { return keys.MemKeyring{}.Add(ks...) }

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{a: genKey(t, "root-a"), b: genKey(t, "root-b"), online: genKey(t, "online"), stranger: genKey(t, "stranger")}
	w.v1 = w.root(t, 1, 1, w.a)
	w.v2 = w.root(t, 2, 2, w.a, w.b)
	return w
}

func (w *world) root(t testing.TB, version int64, threshold int, rootKeys ...*keys.Key) *metadata.Metadata[metadata.RootType] {
	t.Helper()
	r := metadata.Root(expires)
	r.Signed.Version = version
	for _, k := range rootKeys {
		if err := r.Signed.AddKey(k.Public, metadata.ROOT); err != nil {
			t.Fatal(err)
		}
	}
	r.Signed.Roles[metadata.ROOT].Threshold = threshold
	for _, role := range []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := r.Signed.AddKey(w.online.Public, role); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// stagedTimestamp is timestamp v2, unsigned.
func stagedTimestamp(t testing.TB) []byte {
	t.Helper()
	ts := metadata.Timestamp(expires)
	ts.Signed.Version = 2
	data, err := ts.ToBytes(true)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func toBytes(t testing.TB, r *metadata.Metadata[metadata.RootType]) []byte {
	t.Helper()
	data, err := r.ToBytes(true)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// writeFile puts data at path on a fresh in-memory file system (the
// signer's USB stick).
func writeFile(t testing.TB, path string, data []byte) afero.Fs {
	t.Helper()
	fs := afero.NewMemMapFs()
	if err := afero.WriteFile(fs, path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return fs
}

func readFile(t testing.TB, fs afero.Fs, path string) []byte {
	t.Helper()
	data, err := afero.ReadFile(fs, path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// signedCopy is data (staged metadata of role) signed by ks.
func signedCopy(t testing.TB, data []byte, role string, ks ...*keys.Key) []byte {
	t.Helper()
	sm, err := staged.Parse(data, role)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		s, err := k.Signer()
		if err != nil {
			t.Fatal(err)
		}
		if err := sm.Sign(k.ID(), s); err != nil {
			t.Fatal(err)
		}
	}
	out, err := sm.ToBytes(true)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCheckTopLevelRole(t *testing.T) {
	t.Parallel()
	for _, role := range staged.TopLevelRoles {
		if err := staged.CheckTopLevelRole(role); err != nil {
			t.Errorf("%s: %v", role, err)
		}
	}
	for _, role := range []string{"vision", "root.json", "", "Root"} {
		err := staged.CheckTopLevelRole(role)
		if err == nil || !strings.Contains(err.Error(), "want root, targets, snapshot or timestamp") {
			t.Errorf("%q: %v", role, err)
		}
	}
	if got := staged.Path("/r", metadata.ROOT); got != "/r/staged/root.json" {
		t.Errorf("Path: %s", got)
	}
}

// TestSignFileRootThreshold: two holders sign a copy of a new root on
// their own machines, one after the other; the second signature meets
// the new root's threshold, and go-tuf's own checks accept the result.
func TestSignFileRootThreshold(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const p = "/usb/root.json"
	fs := writeFile(t, p, toBytes(t, w.v2))

	var described []string
	res, err := staged.SignFile(fs, p, metadata.ROOT, ring(w.a), staged.SignOptions{
		KeyIDs:   []string{w.a.ID()},
		Describe: func(s []string) { described = s },
	})
	if err != nil {
		t.Fatal(err)
	}
	wantFirst := "root v2, expires " + expires.Format(targets.TimeFormat)
	if res.Role != metadata.ROOT || res.Version != 2 || res.File != p || len(res.Summary) == 0 || res.Summary[0] != wantFirst {
		t.Fatalf("sign: %+v", res)
	}
	if !reflect.DeepEqual(described, res.Summary) {
		t.Errorf("Describe saw %q, result says %q", described, res.Summary)
	}
	if !reflect.DeepEqual(res.Signed, []string{w.a.ID()}) || len(res.Warnings) != 0 {
		t.Errorf("signed %v, warnings %q", res.Signed, res.Warnings)
	}
	// Without the repository, only the new root's own threshold is known.
	if res.Signatures == nil || res.Signatures.Met || len(res.Signatures.Groups) != 1 {
		t.Fatalf("signatures after one of two: %+v", res.Signatures)
	}
	if err := res.Signatures.Err(); !errors.Is(err, staged.ErrThreshold) || !strings.Contains(err.Error(), "(missing: "+keys.ShortID(w.b.ID())+")") {
		t.Errorf("Err: %v", err)
	}
	if s := res.Signatures.String(); !strings.HasPrefix(s, "threshold not met for root v2: 1 of 2 signatures from the new root keys") {
		t.Errorf("String: %s", s)
	}

	res, err = staged.SignFile(fs, p, metadata.ROOT, ring(w.b), staged.SignOptions{KeyIDs: []string{w.b.ID()}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Signatures.Met || res.Signatures.Err() != nil {
		t.Fatalf("signatures after two of two: %+v", res.Signatures)
	}

	sm, err := staged.ReadFile(fs, p, metadata.ROOT)
	if err != nil {
		t.Fatal(err)
	}
	if sm.Version() != 2 || !sm.Expires().Equal(expires) || len(sm.Signatures()) != 2 {
		t.Fatalf("read back: v%d %s %d signatures", sm.Version(), sm.Expires(), len(sm.Signatures()))
	}
	// With the previous root known: its keys and the new ones, each met.
	st := staged.CheckSignatures(sm, w.v1)
	if !st.Met || len(st.Groups) != 2 || st.Groups[0].Name != "root v1" || st.Groups[1].Name != "root v2" {
		t.Fatalf("CheckSignatures with v1: %+v", st)
	}
	if err := staged.Verify(sm, w.v1); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// TestSignFileRefusals: a role that is not top-level, a file of another
// role, a missing file, keys that are not at hand or cannot be checked.
func TestSignFileRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const p = "/usb/root.json"
	data := toBytes(t, w.v2)
	fs := writeFile(t, p, data)
	opts := staged.SignOptions{KeyIDs: []string{w.a.ID()}}

	if _, err := staged.SignFile(fs, p, "vision", ring(w.a), opts); err == nil || !strings.Contains(err.Error(), `role "vision": want root`) {
		t.Errorf("delegated role: %v", err)
	}
	if _, err := staged.SignFile(fs, p, metadata.TARGETS, ring(w.a), opts); err == nil || !strings.Contains(err.Error(), `holds "root" metadata, not targets`) {
		t.Errorf("root file as targets: %v", err)
	}
	if _, err := staged.SignFile(fs, "/usb/none.json", metadata.ROOT, ring(w.a), opts); !errors.Is(err, staged.ErrNothingStaged) {
		t.Errorf("missing file: %v", err)
	}
	// A key named but not in the keyring.
	if _, err := staged.SignFile(fs, p, metadata.ROOT, ring(w.b), opts); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Errorf("key not at hand: %v", err)
	}
	// No key named, and none of the keyring's keys is a root key.
	if _, err := staged.SignFile(fs, p, metadata.ROOT, ring(w.stranger), staged.SignOptions{}); !errors.Is(err, staged.ErrNotSigningKey) {
		t.Errorf("no root key at hand: %v", err)
	}
	if got := readFile(t, fs, p); !bytes.Equal(got, data) {
		t.Error("refused signing changed the file")
	}

	// A key that is not a root key of the staged root may be one of the
	// previous root, unknown here: it signs, with a warning.
	res, err := staged.SignFile(fs, p, metadata.ROOT, ring(w.stranger), staged.SignOptions{KeyIDs: []string{w.stranger.ID()}})
	if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "is not a root key of root v2: its signature counts only if it is a root key of root v1") {
		t.Errorf("stranger on root: %v %+v", err, res)
	}

	// Which keys sign a timestamp is not known without the repository.
	const tp = "/usb/timestamp.json"
	tfs := writeFile(t, tp, stagedTimestamp(t))
	if _, err := staged.SignFile(tfs, tp, metadata.TIMESTAMP, ring(w.online), staged.SignOptions{}); err == nil || !strings.Contains(err.Error(), "which keys sign timestamp is not known without the repository") {
		t.Errorf("timestamp, no key named: %v", err)
	}
	res, err = staged.SignFile(tfs, tp, metadata.TIMESTAMP, ring(w.online), staged.SignOptions{KeyIDs: []string{w.online.ID()}})
	if err != nil || res.Signatures != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "without the repository; publish-staged will") {
		t.Errorf("timestamp, key named: %v %+v", err, res)
	}
}

// TestSignWithRoot: with the repository's root at hand (as repo calls
// Sign), only the role's keys sign, and a key of another role is refused.
func TestSignWithRoot(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	writes := 0
	write := func(*staged.File) error { writes++; return nil }
	load := func() *staged.File {
		sm, err := staged.Parse(stagedTimestamp(t), metadata.TIMESTAMP)
		if err != nil {
			t.Fatal(err)
		}
		return sm
	}

	sm := load()
	if err := staged.Verify(sm, w.v1); !errors.Is(err, staged.ErrThreshold) {
		t.Errorf("Verify unsigned: %v", err)
	}
	if _, err := staged.Sign(write, "ts.json", sm, w.v1, ring(w.a), staged.SignOptions{KeyIDs: []string{w.a.ID()}}); !errors.Is(err, staged.ErrNotSigningKey) || !strings.Contains(err.Error(), "is not a timestamp key of root v1") {
		t.Errorf("root key on timestamp: %v", err)
	}
	if _, err := staged.Sign(write, "ts.json", sm, w.v1, ring(w.a, w.b), staged.SignOptions{}); !errors.Is(err, staged.ErrNotSigningKey) || !strings.Contains(err.Error(), "none of the keys at hand signs timestamp v2") {
		t.Errorf("no timestamp key at hand: %v", err)
	}
	if writes != 0 {
		t.Fatalf("refused signing wrote %d times", writes)
	}
	// Every key of the keyring that may sign does; the others are skipped.
	res, err := staged.Sign(write, "ts.json", sm, w.v1, ring(w.a, w.online), staged.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if writes != 1 || !reflect.DeepEqual(res.Signed, []string{w.online.ID()}) || res.Signatures == nil || !res.Signatures.Met {
		t.Fatalf("sign: %d writes, %+v %+v", writes, res, res.Signatures)
	}
	if err := staged.Verify(sm, w.v1); err != nil {
		t.Errorf("Verify signed: %v", err)
	}

	// A staged root must follow the repository's root.
	v3 := w.root(t, 3, 1, w.a)
	rsm, err := staged.Parse(toBytes(t, v3), metadata.ROOT)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := staged.Sign(write, "root.json", rsm, w.v1, ring(w.a), staged.SignOptions{}); !errors.Is(err, staged.ErrConflict) || !strings.Contains(err.Error(), "staged root v3 does not follow the repository's root v1") {
		t.Errorf("stale root: %v", err)
	}
}

// TestDuplicateSignatures: signing again with the same key replaces the
// signature; a file carrying two signatures by one key does not load.
func TestDuplicateSignatures(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	data := signedCopy(t, toBytes(t, w.v2), metadata.ROOT, w.a, w.a, w.b, w.a)
	sm, err := staged.Parse(data, metadata.ROOT)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sm.Signatures()); n != 2 {
		t.Fatalf("%d signatures after signing with a, a, b, a", n)
	}

	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	sigs := doc["signatures"].([]any)
	doc["signatures"] = append(sigs, sigs[0])
	dup, _ := json.Marshal(doc)
	if _, err := staged.Parse(dup, metadata.ROOT); err == nil || !strings.Contains(err.Error(), "multiple signatures") {
		t.Errorf("two signatures by one key: %v", err)
	}
	fs := writeFile(t, "/usb/root.json", toBytes(t, w.v2))
	if _, err := staged.MergeFile(fs, "/usb/root.json", metadata.ROOT, map[string][]byte{"dup.json": dup}); err == nil || !strings.Contains(err.Error(), "dup.json: ") {
		t.Errorf("merging a copy with two signatures by one key: %v", err)
	}

	// CleanSignatures keeps one valid signature per eligible key.
	sm.SetSignatures(append(sm.Signatures(), metadata.Signature{KeyID: w.a.ID(), Signature: []byte("forged")}, metadata.Signature{KeyID: w.stranger.ID(), Signature: []byte("x")}))
	if err := staged.CleanSignatures(sm, staged.EligibleKeys(sm, w.v1)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range sm.Signatures() {
		ids = append(ids, s.KeyID)
	}
	if !reflect.DeepEqual(ids, []string{w.b.ID(), w.a.ID()}) {
		t.Errorf("after CleanSignatures: %v", ids)
	}
}

// TestTamperedFile: a staged file edited after it was signed carries no
// valid signature; CheckSignatures counts none and Verify refuses it.
func TestTamperedFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	data := signedCopy(t, toBytes(t, w.v2), metadata.ROOT, w.a, w.b)
	sm, err := staged.Parse(data, metadata.ROOT)
	if err != nil {
		t.Fatal(err)
	}
	if err := staged.Verify(sm, w.v1); err != nil {
		t.Fatalf("before tampering: %v", err)
	}
	tampered := bytes.Replace(data, []byte(`"version": 2`), []byte(`"version": 20`), 1)
	if bytes.Equal(tampered, data) {
		t.Fatal("nothing tampered")
	}
	sm, err = staged.Parse(tampered, metadata.ROOT)
	if err != nil {
		t.Fatal(err)
	}
	st := staged.CheckSignatures(sm, nil)
	if st.Met || len(st.Groups) != 1 || len(st.Groups[0].Signed) != 0 || len(st.Groups[0].Missing) != 2 {
		t.Errorf("CheckSignatures: %+v", st)
	}
	if err := staged.Verify(sm, w.v1); !errors.Is(err, staged.ErrThreshold) {
		t.Errorf("Verify: %v", err)
	}
}

// TestMergeFile: signatures of other copies are merged by key ID; a copy
// that stages other content, another role, or a signature that does not
// verify is refused and the file is left as it was.
func TestMergeFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const p = "/usb/root.json"
	unsigned := toBytes(t, w.v2)
	base := signedCopy(t, unsigned, metadata.ROOT, w.a)
	fs := writeFile(t, p, base)

	if _, err := staged.MergeFile(fs, p, metadata.ROOT, nil); err == nil || err.Error() != "no files to merge" {
		t.Errorf("nothing to merge: %v", err)
	}
	other := w.root(t, 2, 1, w.a, w.b)
	if _, err := staged.MergeFile(fs, p, metadata.ROOT, map[string][]byte{"other.json": signedCopy(t, toBytes(t, other), metadata.ROOT, w.b)}); !errors.Is(err, staged.ErrMismatch) || !strings.Contains(err.Error(), "other.json stages other content than "+p) {
		t.Errorf("other content: %v", err)
	}
	if _, err := staged.MergeFile(fs, p, metadata.ROOT, map[string][]byte{"ts.json": stagedTimestamp(t)}); err == nil || !strings.Contains(err.Error(), `ts.json: holds "timestamp" metadata, not root`) {
		t.Errorf("timestamp as root: %v", err)
	}
	copyB := signedCopy(t, unsigned, metadata.ROOT, w.b)
	var doc struct {
		Signatures []struct{ Sig string } `json:"signatures"`
	}
	if err := json.Unmarshal(copyB, &doc); err != nil {
		t.Fatal(err)
	}
	sig := doc.Signatures[0].Sig
	forged := bytes.Replace(copyB, []byte(sig), []byte("00"+sig[2:]), 1)
	if _, err := staged.MergeFile(fs, p, metadata.ROOT, map[string][]byte{"forged.json": forged}); err == nil || !strings.Contains(err.Error(), "forged.json: the signature by key "+keys.ShortID(w.b.ID())+" does not verify") {
		t.Errorf("forged signature: %v", err)
	}
	if got := readFile(t, fs, p); !bytes.Equal(got, base) {
		t.Fatal("refused merges changed the file")
	}

	res, err := staged.MergeFile(fs, p, metadata.ROOT, map[string][]byte{"b.json": copyB})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Added, []string{w.b.ID()}) || res.Signatures == nil || !res.Signatures.Met || len(res.Warnings) != 0 {
		t.Fatalf("merge: %+v", res)
	}
	// Merging again adds nothing; the file holds both signatures.
	if res, err = staged.MergeFile(fs, p, metadata.ROOT, map[string][]byte{"b.json": copyB, "a.json": base}); err != nil || len(res.Added) != 0 {
		t.Fatalf("merge again: %v %+v", err, res)
	}
	sm, err := staged.ReadFile(fs, p, metadata.ROOT)
	if err != nil {
		t.Fatal(err)
	}
	if err := staged.Verify(sm, w.v1); err != nil {
		t.Errorf("merged file: %v", err)
	}

	// A key this machine cannot identify: kept for publish-staged to
	// check. With the previous root known, it is dropped instead.
	res, err = staged.MergeFile(fs, p, metadata.ROOT, map[string][]byte{"s.json": signedCopy(t, unsigned, metadata.ROOT, w.stranger)})
	if err != nil || !reflect.DeepEqual(res.Added, []string{w.stranger.ID()}) || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "kept the signature by key "+keys.ShortID(w.stranger.ID())+" unchecked") {
		t.Errorf("stranger without the repository: %v %+v", err, res)
	}
	mres, err := staged.Merge(p, sm, w.v1, map[string][]byte{"s.json": signedCopy(t, unsigned, metadata.ROOT, w.stranger)})
	if err != nil || len(mres.Added) != 0 || len(mres.Warnings) != 1 || !strings.Contains(mres.Warnings[0], "ignored the signature by key") {
		t.Errorf("stranger with the repository: %v %+v", err, mres)
	}
}

// TestReadFileBounded: staged files come from other people's tools; an
// over-long or too deeply nested file is refused before it is parsed.
func TestReadFileBounded(t *testing.T) {
	t.Parallel()
	const p = "/usb/root.json"
	long := append([]byte(`{"signed":{"_type":"root","pad":"`), bytes.Repeat([]byte("x"), repofiles.MaxMetadataSize)...)
	fs := writeFile(t, p, append(long, `"}}`...))
	if _, err := staged.ReadFile(fs, p, metadata.ROOT); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("over-long file: %v", err)
	}
	deep := `{"signed":{"_type":"root","x":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + `}}`
	if _, err := staged.Parse([]byte(deep), metadata.ROOT); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("deep staged file: %v", err)
	}
	if _, err := staged.Parse([]byte("not json"), metadata.ROOT); err == nil || !strings.Contains(err.Error(), "not TUF metadata") {
		t.Errorf("not JSON: %v", err)
	}
}

// TestDescribe: what a holder reads before signing.
func TestDescribe(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, b, on := keys.ShortID(w.a.ID()), keys.ShortID(w.b.ID()), keys.ShortID(w.online.ID())
	wantChanges := []string{"root: added key " + b, "root: threshold 1 -> 2"}
	if got := staged.RootChanges(w.v1, w.v2); !reflect.DeepEqual(got, wantChanges) {
		t.Errorf("RootChanges: %q", got)
	}
	if got := staged.RootChanges(w.v2, w.v1); !reflect.DeepEqual(got, []string{"root: removed key " + b, "root: threshold 2 -> 1"}) {
		t.Errorf("RootChanges back: %q", got)
	}
	if got := staged.RootChanges(w.v1, w.v1); len(got) != 0 {
		t.Errorf("RootChanges of one root: %q", got)
	}

	sm, err := staged.Parse(toBytes(t, w.v2), metadata.ROOT)
	if err != nil {
		t.Fatal(err)
	}
	exp := expires.Format(targets.TimeFormat)
	want := []string{
		"root v2, expires " + exp,
		"  root      2 of 2 keys: " + a + ", " + b,
		"  targets   1 of 1 keys: " + on,
		"  snapshot  1 of 1 keys: " + on,
		"  timestamp 1 of 1 keys: " + on,
		"  changes from root v1: " + strings.Join(wantChanges, "; "),
	}
	if got := staged.Describe(sm, w.v1); !reflect.DeepEqual(got, want) {
		t.Errorf("Describe root:\n got %q\nwant %q", got, want)
	}
	if got := staged.Describe(sm, nil); !reflect.DeepEqual(got, want[:5]) {
		t.Errorf("Describe root without the previous one: %q", got)
	}

	ts := metadata.Timestamp(expires)
	ts.Signed.Version = 2
	for _, c := range []struct {
		role string
		md   interface{ ToBytes(bool) ([]byte, error) }
		want []string
	}{
		{metadata.TIMESTAMP, ts, []string{"timestamp v2, expires " + exp, "  snapshot.json v1"}},
		{metadata.SNAPSHOT, metadata.Snapshot(expires), []string{"snapshot v1, expires " + exp, "  targets.json v1"}},
		{metadata.TARGETS, metadata.Targets(expires), []string{"targets v1, expires " + exp, "  0 targets, 0 delegated roles"}},
	} {
		data, err := c.md.ToBytes(true)
		if err != nil {
			t.Fatal(err)
		}
		if got := staged.Describe(mustParse(t, data, c.role), w.v1); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Describe %s: %q", c.role, got)
		}
	}
}

// TestList: the staged files of a repository, for mrepo status.
func TestList(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	fs := afero.NewMemMapFs()
	if got := staged.List(fs, "/r", w.v1); len(got) != 0 {
		t.Fatalf("nothing staged: %+v", got)
	}
	if err := staged.WriteFile(fs, staged.Path("/r", metadata.ROOT), mustParse(t, signedCopy(t, toBytes(t, w.v2), metadata.ROOT, w.a), metadata.ROOT)); err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(fs, staged.Path("/r", metadata.TIMESTAMP), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := staged.List(fs, "/r", w.v1)
	if len(got) != 2 {
		t.Fatalf("List: %+v", got)
	}
	root, ts := got[0], got[1]
	if root.Role != metadata.ROOT || root.Version != 2 || !root.Expires.Equal(expires) || root.File != "/r/staged/root.json" || root.Problem != "" || root.Signatures == nil || root.Signatures.Met {
		t.Errorf("root: %+v", root)
	}
	if ts.Role != metadata.TIMESTAMP || ts.Signatures != nil || ts.Problem != `holds "" metadata, not timestamp` {
		t.Errorf("timestamp: %+v", ts)
	}
	if got := staged.List(fs, "/r", w.v2)[0].Problem; got != "published, but the rotation may be incomplete: run mrepo publish-staged --role root" {
		t.Errorf("root already published: %s", got)
	}
	if got := staged.List(fs, "/r", w.root(t, 5, 1, w.a))[0].Problem; got != "stale: the repository's root is v5" {
		t.Errorf("stale root: %s", got)
	}
}

func mustParse(t testing.TB, data []byte, role string) *staged.File {
	t.Helper()
	sm, err := staged.Parse(data, role)
	if err != nil {
		t.Fatal(err)
	}
	return sm
}
