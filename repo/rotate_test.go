package repo

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/edgetuf/edgetuf/status"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// genKey makes an in-memory key (no key derivation: fast).
func genKey(t testing.TB, name string) *keys.Key {
	t.Helper()
	k, err := keys.Generate(name, keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ring is a keyring of the given keys.
func ring(ks ...*keys.Key) keys.MemKeyring { return keys.MemKeyring{}.Add(ks...) }

// fixtureKey returns the fixture's key of a top-level role (each has one).
func fixtureKey(t testing.TB, role string) *keys.Key {
	t.Helper()
	f := getFixture(t)
	st := current(t, copyOf(t, publishedTree), repoDir)
	return f.kr[st.root.Signed.Roles[role].KeyIDs[0]]
}

// withKeys is a copy of kr with more keys.
func withKeys(kr keys.MemKeyring, ks ...*keys.Key) keys.MemKeyring {
	out := keys.MemKeyring{}
	for id, k := range kr {
		out[id] = k
	}
	return out.Add(ks...)
}

func sigIDs[T metadata.Roles](md *metadata.Metadata[T]) []string {
	var out []string
	for _, s := range md.Signatures {
		out = append(out, s.KeyID)
	}
	slices.Sort(out)
	return out
}

func sortedStrings(ss ...string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

// TestRotateEachRole replaces the key of each top-level role with the
// keys at hand: root N+1 is published, exactly the roles the change
// invalidates are re-signed as new versions (by the new key and, while
// the old key is at hand, by the old one too), the journal is gone, the
// repository verifies from the pinned root v1, and afterwards the new key
// alone signs the role.
func TestRotateEachRole(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	for _, c := range []struct {
		role     string
		resigned []string
		changed  []string
	}{
		{metadata.ROOT, []string{}, []string{"+metadata/2.root.json", "+staged/"}},
		{metadata.TARGETS, []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP},
			[]string{"+metadata/2.root.json", "+metadata/4.snapshot.json", "+metadata/4.targets.json", "+staged/", "~metadata/timestamp.json"}},
		{metadata.SNAPSHOT, []string{metadata.SNAPSHOT, metadata.TIMESTAMP},
			[]string{"+metadata/2.root.json", "+metadata/4.snapshot.json", "+staged/", "~metadata/timestamp.json"}},
		{metadata.TIMESTAMP, []string{metadata.TIMESTAMP}, []string{"+metadata/2.root.json", "+staged/", "~metadata/timestamp.json"}},
	} {
		t.Run(c.role, func(t *testing.T) {
			fs, dir := clone(t, publishedTree)
			old := fixtureKey(t, c.role)
			nk := genKey(t, c.role+"-2")
			before := fileSnapshot(t, fs, dir)
			r := openAt(t, fs, dir, t0)
			res, err := r.Rotate(withKeys(f.kr, nk), RotateOptions{Role: c.role, AddKeys: []*metadata.Key{nk.Public}, RemoveKeys: []string{old.ID()[:10]}})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Published || res.Staged != nil || res.RootVersion != 2 || !reflect.DeepEqual(res.Resigned, c.resigned) {
				t.Fatalf("result %+v", res)
			}
			want := []string{fmt.Sprintf("%s: added key %s", c.role, keys.ShortID(nk.ID())), fmt.Sprintf("%s: removed key %s", c.role, keys.ShortID(old.ID()))}
			if !reflect.DeepEqual(res.Changes, want) || !reflect.DeepEqual(res.KeyIDs, []string{nk.ID()}) || len(res.Warnings) != 0 {
				t.Errorf("changes %q, keys %v, warnings %q", res.Changes, res.KeyIDs, res.Warnings)
			}
			if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); !reflect.DeepEqual(d, c.changed) {
				t.Errorf("changed %v, want %v", d, c.changed)
			}
			st := current(t, fs, dir)
			if st.root.Signed.Version != 2 || st.root.Signed.Keys[old.ID()] != nil || !st.root.Signed.Expires.Equal(expiryAt(t0, DefaultExpiry.Root)) {
				t.Errorf("root v%d keeps the old key or has the wrong expiry %v", st.root.Signed.Version, st.root.Signed.Expires)
			}
			switch c.role {
			case metadata.ROOT:
				// Signed by the old root key (root v1's threshold) and the
				// new one (its own).
				if got := sigIDs(st.root); !reflect.DeepEqual(got, sortedStrings(old.ID(), nk.ID())) {
					t.Errorf("root v2 signed by %v", got)
				}
			case metadata.TIMESTAMP:
				if got := sigIDs(st.timestamp); !reflect.DeepEqual(got, sortedStrings(old.ID(), nk.ID())) {
					t.Errorf("timestamp signed by %v, want the old and the new key", got)
				}
			case metadata.SNAPSHOT:
				if got := sigIDs(st.snapshot); !reflect.DeepEqual(got, sortedStrings(old.ID(), nk.ID())) {
					t.Errorf("snapshot signed by %v", got)
				}
			case metadata.TARGETS:
				if got := sigIDs(st.targets); !reflect.DeepEqual(got, sortedStrings(old.ID(), nk.ID())) {
					t.Errorf("targets signed by %v", got)
				}
			}
			if ok, _ := afero.Exists(fs, StagedPath(dir, metadata.ROOT)); ok {
				t.Error("the journal staged/root.json is left behind")
			}
			requireVerifies(t, fs, dir, t0)

			// Afterwards the role's new key alone signs, the old one no longer.
			others := keys.MemKeyring{}
			for id, k := range f.kr {
				if id != old.ID() {
					others[id] = k
				}
			}
			r = openAt(t, fs, dir, t0.Add(time.Hour))
			switch c.role {
			case metadata.ROOT:
				if _, err := r.Rotate(ring(old), RotateOptions{Role: metadata.ROOT, Stage: true}); err != nil {
					t.Fatal(err)
				}
				if _, err := r.PublishStaged(metadata.ROOT, ring(old)); !errors.Is(err, ErrThreshold) {
					t.Fatalf("root v3 signed by the removed key only: %v", err)
				}
			default:
				if _, err := r.Targets(f.kr); !errors.Is(err, ErrThreshold) {
					t.Fatalf("signing with the old keys: %v", err)
				}
				if _, err := r.Targets(withKeys(others, nk)); err != nil {
					t.Fatal(err)
				}
			}
			requireVerifies(t, fs, dir, t0.Add(time.Hour))
		})
	}
}

// TestRotateStagesThenThresholdSigning: a root with three keys and
// threshold 2. A rotation by a host without root keys is staged; one
// holder's signature is not enough (publish-staged names the missing
// keys and changes nothing); a second holder signs a copy on another
// machine, the copies are merged, and the root is published.
func TestRotateStagesThenThresholdSigning(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	a := fixtureKey(t, metadata.ROOT)
	b, c := genKey(t, "root-b"), genKey(t, "root-c")
	r := openAt(t, fs, dir, t0)
	res, err := r.Rotate(withKeys(f.kr, b, c), RotateOptions{Role: metadata.ROOT, AddKeys: []*metadata.Key{b.Public, c.Public}, Threshold: 2})
	if err != nil || !res.Published {
		t.Fatalf("root v2 with three keys: %v %+v", err, res)
	}

	// Root v3 replaces the timestamp key, from the online host: staged.
	online := keys.MemKeyring{}
	for _, role := range onlineRoles {
		k := fixtureKey(t, role)
		online[k.ID()] = k
	}
	ts2 := genKey(t, "timestamp-2")
	online.Add(ts2)
	before := fileSnapshot(t, fs, dir)
	res, err = r.Rotate(online, RotateOptions{Role: metadata.TIMESTAMP, AddKeys: []*metadata.Key{ts2.Public}, RemoveKeys: []string{fixtureKey(t, metadata.TIMESTAMP).ID()}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Published || res.Staged == nil || res.Signatures.Met {
		t.Fatalf("rotation without root keys: %+v", res)
	}
	if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); !reflect.DeepEqual(d, []string{"+staged/root.json"}) {
		t.Errorf("staging changed %v", d)
	}
	// Anything else staged for root is refused while this one is.
	if _, err := r.Stage(metadata.ROOT); !errors.Is(err, ErrStaged) {
		t.Errorf("second staging: %v", err)
	}

	// Holder A signs in the repository.
	sres, err := r.SignStaged(metadata.ROOT, ring(a), staged.SignOptions{KeyIDs: []string{a.ID()}})
	if err != nil {
		t.Fatal(err)
	}
	if sres.Signatures == nil || sres.Signatures.Met || !reflect.DeepEqual(sres.Signed, []string{a.ID()}) {
		t.Fatalf("sign: %+v", sres)
	}
	short := func(ks ...*keys.Key) string {
		var ids []string
		for _, id := range []string{a.ID(), b.ID(), c.ID()} {
			for _, k := range ks {
				if k.ID() == id {
					ids = append(ids, keys.ShortID(id))
				}
			}
		}
		return strings.Join(ids, ", ")
	}
	wantErr := fmt.Sprintf("signature threshold not met for root v3: 1 of 2 signatures from the root keys (missing: %s)", short(b, c))
	before = fileSnapshot(t, fs, dir)
	_, err = r.PublishStaged(metadata.ROOT, online)
	if !errors.Is(err, ErrThreshold) || err.Error() != wantErr {
		t.Fatalf("publish with 1 of 2:\n got %v\nwant %s", err, wantErr)
	}
	if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(d) != 0 {
		t.Fatalf("a refused publication changed %v", d)
	}

	// Holder B signs a copy on an air-gapped machine.
	stagedData := readAll(t, fs, StagedPath(dir, metadata.ROOT))
	air := afero.NewMemMapFs()
	if err := afero.WriteFile(air, "/usb/root.json", stagedData, 0o644); err != nil {
		t.Fatal(err)
	}
	fres, err := staged.SignFile(air, "/usb/root.json", metadata.ROOT, ring(b), staged.SignOptions{KeyIDs: []string{b.ID()}})
	if err != nil || len(fres.Warnings) != 0 {
		t.Fatalf("air-gapped sign: %v %+v", err, fres)
	}
	// A key that is not a root key is refused in the repository.
	if _, err := r.SignStaged(metadata.ROOT, ring(ts2), staged.SignOptions{KeyIDs: []string{ts2.ID()}}); !errors.Is(err, ErrNotSigningKey) {
		t.Errorf("signing with the timestamp key: %v", err)
	}
	copyB := readAll(t, air, "/usb/root.json")
	mres, err := r.MergeSignatures(metadata.ROOT, map[string][]byte{"copy-b.json": copyB})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mres.Added, []string{b.ID()}) || !mres.Signatures.Met {
		t.Fatalf("merge: %+v", mres)
	}
	// Merging the same copy again adds nothing.
	if mres, err = r.MergeSignatures(metadata.ROOT, map[string][]byte{"copy-b.json": copyB}); err != nil || len(mres.Added) != 0 {
		t.Fatalf("merge again: %v %+v", err, mres)
	}
	pres, err := r.PublishStaged(metadata.ROOT, online)
	if err != nil {
		t.Fatal(err)
	}
	if pres.Version != 3 || !reflect.DeepEqual(pres.Resigned, []string{metadata.TIMESTAMP}) {
		t.Fatalf("publish: %+v", pres)
	}
	st := current(t, fs, dir)
	if got := sigIDs(st.root); !reflect.DeepEqual(got, sortedStrings(a.ID(), b.ID())) {
		t.Errorf("root v3 signed by %v", got)
	}
	requireVerifies(t, fs, dir, t0)
	if _, err := r.PublishStaged(metadata.ROOT, online); !errors.Is(err, ErrNothingStaged) {
		t.Errorf("publishing again: %v", err)
	}
}

// TestMergeRefusals: a copy that stages other content, or carries a
// signature that does not verify, is refused; a signature by a key that
// does not count is dropped with a warning.
func TestMergeRefusals(t *testing.T) {
	t.Parallel()
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	if _, err := r.Stage(metadata.ROOT); err != nil {
		t.Fatal(err)
	}
	p := StagedPath(dir, metadata.ROOT)
	stagedData := readAll(t, fs, p)
	signedCopy := func(k *keys.Key) []byte {
		sm, err := staged.Parse(stagedData, metadata.ROOT)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := k.Signer()
		if err := sm.Sign(k.ID(), s); err != nil {
			t.Fatal(err)
		}
		data, _ := sm.ToBytes(true)
		return data
	}
	good := signedCopy(fixtureKey(t, metadata.ROOT))

	// Other content: a later expiry.
	other := afero.NewMemMapFs()
	afero.WriteFile(other, "/x.json", good, 0o644)
	editJSON(t, other, "/x.json", func(m map[string]any) { signedOf(m)["expires"] = "2099-01-01T00:00:00Z" })
	if _, err := r.MergeSignatures(metadata.ROOT, map[string][]byte{"x.json": readAll(t, other, "/x.json")}); !errors.Is(err, ErrStagedMismatch) {
		t.Errorf("other content: %v", err)
	}
	// A signature that does not verify.
	bad := strings.Replace(string(good), `"sig": "`, `"sig": "00`, 1)
	if _, err := r.MergeSignatures(metadata.ROOT, map[string][]byte{"bad.json": []byte(bad)}); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("bad signature: %v", err)
	}
	// Targets metadata offered as root.
	if _, err := r.MergeSignatures(metadata.ROOT, map[string][]byte{"t.json": readAll(t, fs, filepath.Join(dir, MetadataDir, "3.targets.json"))}); err == nil || !strings.Contains(err.Error(), `holds "targets" metadata, not root`) {
		t.Errorf("targets as root: %v", err)
	}
	// A stranger's signature is dropped.
	res, err := r.MergeSignatures(metadata.ROOT, map[string][]byte{"s.json": signedCopy(genKey(t, "stranger"))})
	if err != nil || len(res.Added) != 0 || len(res.Warnings) != 1 {
		t.Errorf("stranger: %v %+v", err, res)
	}
	if got := readAll(t, fs, p); string(got) != string(stagedData) {
		t.Error("refused merges changed the staged file")
	}
	if _, err := r.MergeSignatures(metadata.ROOT, map[string][]byte{"good.json": good}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PublishStaged(metadata.ROOT, nil); err != nil {
		t.Fatalf("root re-signing: %v", err)
	}
	requireVerifies(t, fs, dir, t0)
}

// TestThresholdTargets: targets gets two keys and threshold 2. A staged
// targets version signed by one holder is refused, naming the other key;
// signed by both, it is published with new snapshot and timestamp.
func TestThresholdTargets(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	t1, t2 := fixtureKey(t, metadata.TARGETS), genKey(t, "targets-2")
	r := openAt(t, fs, dir, t0)
	if res, err := r.Rotate(withKeys(f.kr, t2), RotateOptions{Role: metadata.TARGETS, AddKeys: []*metadata.Key{t2.Public}, Threshold: 2}); err != nil || !res.Published {
		t.Fatalf("rotate: %v %+v", err, res)
	}
	requireVerifies(t, fs, dir, t0)
	// One key no longer publishes.
	if _, err := r.Targets(f.kr); !errors.Is(err, ErrThreshold) {
		t.Fatalf("targets with one of two keys: %v", err)
	}
	sres, err := r.Stage(metadata.TARGETS)
	if err != nil || sres.Version != 5 || sres.Signatures.Met {
		t.Fatalf("stage: %v %+v", err, sres)
	}
	if _, err := r.SignStaged(metadata.TARGETS, ring(t1), staged.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("signature threshold not met for targets v5: 1 of 2 signatures from the targets keys (missing: %s)", keys.ShortID(t2.ID()))
	if _, err := r.PublishStaged(metadata.TARGETS, f.kr); err == nil || err.Error() != want {
		t.Fatalf("publish with 1 of 2:\n got %v\nwant %s", err, want)
	}
	if _, err := r.SignStaged(metadata.TARGETS, ring(t2), staged.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := r.PublishStaged(metadata.TARGETS, f.kr)
	if err != nil {
		t.Fatal(err)
	}
	if *res.Versions != (Versions{Targets: 5, Snapshot: 5, Timestamp: 5}) {
		t.Errorf("versions %+v", res.Versions)
	}
	requireVerifies(t, fs, dir, t0)

	// A staged version overtaken by a publication is stale.
	if _, err := r.Stage(metadata.SNAPSHOT); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Timestamp(f.kr); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Snapshot(f.kr); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SignStaged(metadata.SNAPSHOT, f.kr, staged.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PublishStaged(metadata.SNAPSHOT, f.kr); !errors.Is(err, ErrStaged) || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("stale snapshot: %v", err)
	}
}

// TestRotateRefusals: invalid rotations change nothing.
func TestRotateRefusals(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	ts := fixtureKey(t, metadata.TIMESTAMP)
	snap := fixtureKey(t, metadata.SNAPSHOT)
	nk := genKey(t, "n")
	for _, c := range []struct {
		name string
		opts RotateOptions
		want string
	}{
		{"unknown role", RotateOptions{Role: "team-a"}, `role "team-a": want root, targets, snapshot or timestamp`},
		{"remove a key of another role", RotateOptions{Role: metadata.TIMESTAMP, RemoveKeys: []string{snap.ID()}}, "is not a timestamp key"},
		{"short prefix", RotateOptions{Role: metadata.TIMESTAMP, RemoveKeys: []string{ts.ID()[:6]}}, "give at least 8 hex digits"},
		{"no key left", RotateOptions{Role: metadata.TIMESTAMP, RemoveKeys: []string{ts.ID()}}, "timestamp would have no key left"},
		{"threshold above keys", RotateOptions{Role: metadata.TIMESTAMP, Threshold: 2}, "timestamp threshold 2 is more than its 1 key(s)"},
		{"key of another role", RotateOptions{Role: metadata.TIMESTAMP, AddKeys: []*metadata.Key{snap.Public}}, "is a snapshot key: give each role keys of its own"},
		{"key already there", RotateOptions{Role: metadata.TIMESTAMP, AddKeys: []*metadata.Key{ts.Public}}, "is already a timestamp key"},
		{"new key missing", RotateOptions{Role: metadata.TIMESTAMP, AddKeys: []*metadata.Key{nk.Public}, RemoveKeys: []string{ts.ID()}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, dir := clone(t, publishedTree)
			before := fileSnapshot(t, fs, dir)
			res, err := openAt(t, fs, dir, t0).Rotate(f.kr, c.opts)
			if c.want == "" {
				// Root keys at hand, the new timestamp key not: staged,
				// signed, with a warning saying why.
				if err != nil || res.Published || res.Staged == nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "signed but not published") {
					t.Fatalf("%v %+v", err, res)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(d) != 0 {
				t.Fatalf("a refused rotation changed %v", d)
			}
		})
	}
}

// TestRootSignedOnlyByNewKeysRejected: a root v2 that only its own new
// keys sign (not root v1's threshold) is refused by publish-staged, and,
// written by hand, breaks the chain for verify.
func TestRootSignedOnlyByNewKeysRejected(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	old, nk := fixtureKey(t, metadata.ROOT), genKey(t, "root-new")
	r := openAt(t, fs, dir, t0)
	res, err := r.Rotate(ring(nk), RotateOptions{Role: metadata.ROOT, AddKeys: []*metadata.Key{nk.Public}, RemoveKeys: []string{old.ID()}})
	if err != nil || res.Published {
		t.Fatalf("%v %+v", err, res)
	}
	_, err = r.PublishStaged(metadata.ROOT, nil)
	want := fmt.Sprintf("signature threshold not met for root v2: 0 of 1 signatures from the old root keys (missing: %s), 1 of 1 from the new", keys.ShortID(old.ID()))
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	// By hand.
	fs.Rename(StagedPath(dir, metadata.ROOT), filepath.Join(dir, MetadataDir, "2.root.json"))
	rep := verifyAt(t, fs, dir, t0)
	if !hasProblem(rep, audit.RootChainBroken, metadata.ROOT, "") {
		t.Fatalf("verify: %v", rep.Problems)
	}
	// Writers refuse to build on it.
	before := fileSnapshot(t, fs, dir)
	_, err = r.Timestamp(f.kr)
	if !errors.Is(err, ErrStoredMetadata) || !strings.Contains(err.Error(), "2.root.json: not signed by a threshold of root v1's root keys") {
		t.Fatalf("timestamp over a broken root chain: %v", err)
	}
	if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(d) != 0 {
		t.Fatalf("changed %v", d)
	}
}

// TestRotateFaultAtEveryStep fails each filesystem write of a rotation of
// the targets key (root, targets, snapshot and timestamp are all written)
// in turn. With the old key at hand, the repository verifies after every
// fault; publish-staged (or the same rotation again) completes it. Without
// the old key, the repository may be invalid between the timestamp and
// the root writes, and mrepo says how to complete the rotation.
func TestRotateFaultAtEveryStep(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	old := fixtureKey(t, metadata.TARGETS)
	nk := genKey(t, "targets-2")
	withOld := withKeys(f.kr, nk)
	withoutOld := keys.MemKeyring{}
	for id, k := range withOld {
		if id != old.ID() {
			withoutOld[id] = k
		}
	}
	opts := RotateOptions{Role: metadata.TARGETS, AddKeys: []*metadata.Key{nk.Public}, RemoveKeys: []string{old.ID()}}
	for _, c := range []struct {
		name    string
		kr      keys.MemKeyring
		oldKeys bool
	}{{"old key at hand", withOld, true}, {"old key lost", withoutOld, false}} {
		t.Run(c.name, func(t *testing.T) {
			invalid := 0
			for n := 1; ; n++ {
				mem, dir := clone(t, publishedTree)
				ffs := &faultFs{Fs: mem, failAt: n}
				res, err := openAt(t, ffs, dir, t0).Rotate(c.kr, opts)
				if err == nil {
					if ffs.ops >= n {
						t.Fatalf("step %d: fault injected but Rotate succeeded", n)
					}
					if !res.Published || len(res.Warnings) != map[bool]int{true: 0, false: 1}[c.oldKeys] {
						t.Fatalf("result %+v", res)
					}
					t.Logf("%d steps; %d left the repository invalid until completed", n-1, invalid)
					if c.oldKeys && invalid != 0 {
						t.Fatal("with the old key at hand, no step may leave the repository invalid")
					}
					return
				}
				if !errors.Is(err, errInjected) {
					t.Fatalf("step %d: %v", n, err)
				}
				if rep := verifyAt(t, mem, dir, t0); !rep.OK() {
					invalid++
					if c.oldKeys {
						t.Fatalf("step %d: %v", n, rep.Problems)
					}
					// Writers refuse, pointing at the way out.
					if _, err := openAt(t, mem, dir, t0).Timestamp(c.kr); err == nil || !strings.Contains(err.Error(), "publish-staged --role root") {
						t.Fatalf("step %d: timestamp on a half-rotated repository: %v", n, err)
					}
				}
				r2 := openAt(t, mem, dir, t0)
				if ok, _ := afero.Exists(mem, StagedPath(dir, metadata.ROOT)); ok {
					if _, err := r2.PublishStaged(metadata.ROOT, c.kr); err != nil {
						t.Fatalf("step %d: completing: %v", n, err)
					}
				} else if _, err := r2.Rotate(c.kr, opts); err != nil {
					t.Fatalf("step %d: rotating again: %v", n, err)
				}
				requireVerifies(t, mem, dir, t0)
				st := current(t, mem, dir)
				if st.root.Signed.Version != 2 || !slices.Equal(st.root.Signed.Roles[metadata.TARGETS].KeyIDs, []string{nk.ID()}) {
					t.Fatalf("step %d: root v%d, targets keys %v", n, st.root.Signed.Version, st.root.Signed.Roles[metadata.TARGETS].KeyIDs)
				}
				if ok, _ := afero.Exists(mem, StagedPath(dir, metadata.ROOT)); ok {
					t.Fatalf("step %d: journal left", n)
				}
				if n > 100 {
					t.Fatal("Rotate never completes")
				}
			}
		})
	}
}

// TestStatusShowsStaged: status lists staged metadata with what it lacks.
func TestStatusShowsStaged(t *testing.T) {
	t.Parallel()
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	if _, err := r.Stage(metadata.ROOT); err != nil {
		t.Fatal(err)
	}
	st, err := statusOf(r, status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Staged) != 1 || st.Staged[0].Role != metadata.ROOT || st.Staged[0].Version != 2 || st.Staged[0].Signatures == nil || st.Staged[0].Signatures.Met {
		t.Fatalf("staged %+v", st.Staged)
	}
}

// TestPublishStagedResumes: a root published whose journal was not yet
// removed (a crash at the very end) is completed, not published twice.
func TestPublishStagedResumes(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	nk := genKey(t, "timestamp-2")
	r := openAt(t, fs, dir, t0)
	if _, err := r.Rotate(withKeys(f.kr, nk), RotateOptions{Role: metadata.TIMESTAMP, AddKeys: []*metadata.Key{nk.Public}}); err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(fs, StagedPath(dir, metadata.ROOT), readAll(t, fs, filepath.Join(dir, MetadataDir, "2.root.json")), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := statusOf(r, status.Options{})
	if err != nil || len(st.Staged) != 1 || !strings.Contains(st.Staged[0].Problem, "publish-staged --role root") {
		t.Fatalf("status: %v %+v", err, st.Staged)
	}
	before := fileSnapshot(t, fs, dir)
	res, err := r.PublishStaged(metadata.ROOT, f.kr)
	if err != nil || !res.Resumed || len(res.Resigned) != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); !reflect.DeepEqual(d, []string{"-staged/root.json"}) {
		t.Errorf("changed %v", d)
	}
	requireVerifies(t, fs, dir, t0)
}
