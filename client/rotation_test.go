package client_test

// Key rotation as a device sees it: a device provisioned with root v1
// follows the chain of root versions however many rotations it slept
// through; a root not signed by the previous root's threshold, metadata
// signed by one key fewer than the threshold, and anything signed by a
// revoked key are rejected once the rotation has reached the device.

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// rotRepo returns a fresh repository whose root has three keys and
// threshold 2, with its root keys (in the root role's order: root-1,
// root-2, root-3). testrepo makes it once per test process.
func rotRepo(t *testing.T) (*testrepo.Repo, []*keys.Key) {
	t.Helper()
	r, rootKeys := testrepo.NewWithRootKeys(t, 3, 2)
	root, err := metadata.Root().FromBytes(r.Root)
	if err != nil {
		t.Fatal(err)
	}
	var ordered []*keys.Key
	for _, id := range root.Signed.Roles[metadata.ROOT].KeyIDs {
		ordered = append(ordered, rootKeys[id])
	}
	return r, ordered
}

func genKey(t *testing.T, name string) *keys.Key {
	t.Helper()
	k, err := keys.Generate(name, keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyring(kr keys.MemKeyring, more ...*keys.Key) keys.MemKeyring {
	out := keys.MemKeyring{}
	for id, k := range kr {
		out[id] = k
	}
	return out.Add(more...)
}

func signerOf(t *testing.T, k *keys.Key) signature.Signer {
	t.Helper()
	s, err := k.Signer()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// onlineKey returns the repository's current key of an online role.
func onlineKey(t *testing.T, r *testrepo.Repo, role string) *keys.Key {
	t.Helper()
	root := forge(t, r.Dir).root
	k := r.Keys[root.Signed.Roles[role].KeyIDs[0]]
	if k == nil {
		t.Fatalf("no %s key at hand", role)
	}
	return k
}

// trustedRootVersion is the version of the newest root the device trusts.
func (d *device) trustedRootVersion() int64 {
	d.t.Helper()
	data, err := os.ReadFile(d.path("metadata", "root.json"))
	if err != nil {
		d.t.Fatal(err)
	}
	var m struct {
		Signed struct {
			Version int64 `json:"version"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		d.t.Fatal(err)
	}
	return m.Signed.Version
}

func mustRotate(t *testing.T, r *testrepo.Repo, kr keys.Keyring, opts repo.RotateOptions) {
	t.Helper()
	res, err := r.R.Rotate(kr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Published {
		t.Fatalf("root v%d not published: %v %v", res.RootVersion, res.Signatures, res.Warnings)
	}
}

// TestRootChainOfflineDevice: a device provisioned with root v1 sleeps
// through root v2 (a root key replaced, threshold 2 -> 3), root v3 (a
// root key removed, threshold 3 -> 2) and root v4 (timestamp key
// replaced), then updates: it walks 2, 3, 4.root.json and installs the
// version published since, signed by the new keys.
func TestRootChainOfflineDevice(t *testing.T) {
	t.Parallel()
	r, rk := rotRepo(t)
	r1, r2, r3 := rk[0], rk[1], rk[2]
	publish(t, r, smallSize, "1.0.0")
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	d.mustUpdate("1.0.0")
	if v := d.trustedRootVersion(); v != 1 {
		t.Fatalf("device trusts root v%d", v)
	}

	// v2: root-3 replaced by root-4, threshold 3 (root-1 and root-2 meet
	// v1's threshold; root-1, root-2 and root-4 meet v2's).
	r4 := genKey(t, "root-4")
	mustRotate(t, r, keyring(r.Keys, r1, r2, r4), repo.RotateOptions{Role: metadata.ROOT, AddKeys: []*metadata.Key{r4.Public}, RemoveKeys: []string{r3.ID()}, Threshold: 3})
	// v3: root-1 leaves, threshold 2 (v2's three keys sign for v2's threshold).
	mustRotate(t, r, keyring(r.Keys, r1, r2, r4), repo.RotateOptions{Role: metadata.ROOT, RemoveKeys: []string{r1.ID()}, Threshold: 2})
	// v4: a new timestamp key, signed by root-2 and root-4 only.
	oldTS, ts2 := onlineKey(t, r, metadata.TIMESTAMP), genKey(t, "timestamp-2")
	mustRotate(t, r, keyring(r.Keys, r2, r4, ts2), repo.RotateOptions{Role: metadata.TIMESTAMP, AddKeys: []*metadata.Key{ts2.Public}, RemoveKeys: []string{oldTS.ID()}})
	// A publication signed by the current keys (the old timestamp key gone).
	delete(r.Keys, oldTS.ID())
	r.Keys.Add(ts2)
	publish(t, r, smallSize, "1.1.0")
	if rep := audit.Verify(afero.NewOsFs(), r.Dir, r.Root, audit.Options{}); !rep.OK() {
		t.Fatalf("verify from root v1: %v", rep.Problems)
	}

	srv.reset()
	d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
	if v := d.trustedRootVersion(); v != 4 {
		t.Fatalf("device trusts root v%d, want 4", v)
	}
	for _, n := range []string{"2", "3", "4"} {
		if len(srv.requests("/metadata/"+n+".root.json")) == 0 {
			t.Errorf("%s.root.json was never requested", n)
		}
	}
}

// TestRootSignedOnlyByNewKeysRejected: root v2 signed by its own new key
// only, not by root v1's: mrepo refuses to publish it, and, published by
// hand, devices reject it and keep trusting root v1.
func TestRootSignedOnlyByNewKeysRejected(t *testing.T) {
	t.Parallel()
	r, _, d := onV1(t)
	v1, err := metadata.Root().FromBytes(r.Root)
	if err != nil {
		t.Fatal(err)
	}
	nk := genKey(t, "root-new")
	res, err := r.R.Rotate(keyring(nil, nk), repo.RotateOptions{Role: metadata.ROOT, AddKeys: []*metadata.Key{nk.Public}, RemoveKeys: v1.Signed.Roles[metadata.ROOT].KeyIDs})
	if err != nil || res.Published {
		t.Fatalf("%v %+v", err, res)
	}
	if _, err := r.R.PublishStaged(metadata.ROOT, r.Keys); !errors.Is(err, repo.ErrThreshold) {
		t.Fatalf("publish-staged: %v", err)
	}
	// By hand, next to a publication signed by the (unchanged) online keys
	// (mrepo refuses to publish on top of a broken root chain).
	publish(t, r, smallSize, "1.1.0")
	if err := os.Rename(repo.StagedPath(r.Dir, metadata.ROOT), filepath.Join(r.Dir, "metadata", "2.root.json")); err != nil {
		t.Fatal(err)
	}
	d.wantFail(client.MetadataSignatureInvalid, "1.0.0")
	d.wantNotInstalled("1.1.0")
	if v := d.trustedRootVersion(); v != 1 {
		t.Fatalf("device trusts root v%d", v)
	}
}

// TestThresholdKMinusOneRejected: with threshold 2, one signature is not
// enough: mrepo refuses to publish (a root, a targets version), and what
// is published by hand with one signature, devices reject.
func TestThresholdKMinusOneRejected(t *testing.T) {
	t.Parallel()
	t.Run("root", func(t *testing.T) {
		r, rk := rotRepo(t)
		publish(t, r, smallSize, "1.0.0")
		srv := serveRepo(t, r)
		d := newDevice(t, r, srv.URL, fastOpts())
		d.mustUpdate("1.0.0")
		// Root v2 replaces the timestamp key; only root-1 signs.
		oldTS, ts2 := onlineKey(t, r, metadata.TIMESTAMP), genKey(t, "timestamp-2")
		res, err := r.R.Rotate(keyring(r.Keys, rk[0], ts2), repo.RotateOptions{Role: metadata.TIMESTAMP, AddKeys: []*metadata.Key{ts2.Public}, RemoveKeys: []string{oldTS.ID()}})
		if err != nil || res.Published || len(res.Signatures.Groups[0].Signed) != 1 {
			t.Fatalf("%v %+v", err, res)
		}
		if _, err := r.R.PublishStaged(metadata.ROOT, keyring(r.Keys, ts2)); !errors.Is(err, repo.ErrThreshold) {
			t.Fatalf("publish-staged with 1 of 2: %v", err)
		}
		// By hand: 2.root.json with one signature, and a timestamp signed
		// by the new key.
		stagedPath := repo.StagedPath(r.Dir, metadata.ROOT)
		data, err := os.ReadFile(stagedPath)
		if err != nil {
			t.Fatal(err)
		}
		evil := snapshotRepo(t, r)
		if err := os.WriteFile(filepath.Join(evil, "metadata", "2.root.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		f := forge(t, evil)
		f.publishTimestamp(signerOf(t, ts2))
		srv.set(dirHandler(evil))
		d.wantFail(client.MetadataSignatureInvalid, "1.0.0")
		if v := d.trustedRootVersion(); v != 1 {
			t.Fatalf("device trusts root v%d", v)
		}
		if rep := audit.Verify(afero.NewOsFs(), evil, r.Root, audit.Options{}); rep.OK() {
			t.Fatal("verify accepts a root signed by 1 of 2")
		}

		// The second holder signs: published, and the device follows.
		if _, err := r.R.SignStaged(metadata.ROOT, keyring(nil, rk[1]), staged.SignOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.R.PublishStaged(metadata.ROOT, keyring(r.Keys, ts2)); err != nil {
			t.Fatal(err)
		}
		srv.set(dirHandler(r.Dir))
		delete(r.Keys, oldTS.ID())
		r.Keys.Add(ts2)
		publish(t, r, smallSize, "1.1.0")
		d.mustUpdate("1.1.0")
		if v := d.trustedRootVersion(); v != 2 {
			t.Fatalf("device trusts root v%d", v)
		}
	})

	t.Run("targets", func(t *testing.T) {
		r, rk := rotRepo(t)
		publish(t, r, smallSize, "1.0.0")
		srv := serveRepo(t, r)
		d := newDevice(t, r, srv.URL, fastOpts())
		d.mustUpdate("1.0.0")
		t1, t2 := onlineKey(t, r, metadata.TARGETS), genKey(t, "targets-2")
		mustRotate(t, r, keyring(r.Keys, rk[0], rk[1], t2), repo.RotateOptions{Role: metadata.TARGETS, AddKeys: []*metadata.Key{t2.Public}, Threshold: 2})
		// mrepo refuses to sign targets with one of the two keys.
		if _, err := r.R.Targets(r.Keys); !errors.Is(err, repo.ErrThreshold) {
			t.Fatalf("targets with 1 of 2 keys: %v", err)
		}
		// With both keys, 1.1.0 is published; the attacker's copy re-signs
		// the same targets, as a new version, with t1 only.
		r.Keys.Add(t2)
		publish(t, r, smallSize, "1.1.0")
		evil := snapshotRepo(t, r)
		f := forge(t, evil)
		f.publishAll(signerOf(t, t1), trustedSigner(t, r, metadata.SNAPSHOT), trustedSigner(t, r, metadata.TIMESTAMP))
		srv.set(dirHandler(evil))
		d.wantFail(client.SignatureInvalid, "1.0.0")
		d.wantNotInstalled("1.1.0")
	})
}

// TestRevokedTimestampKeyRejected: the timestamp key leaks and is rotated
// away. Once root v2 has reached a device, a timestamp signed by the old
// key is rejected there. A device that has not fetched root v2 yet still
// accepts it if the attacker also hides root v2 (the window docs/rotation.md
// describes: at most a freeze, no forged targets).
func TestRevokedTimestampKeyRejected(t *testing.T) {
	t.Parallel()
	r, rk := rotRepo(t)
	publish(t, r, smallSize, "1.0.0")
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	d.mustUpdate("1.0.0")
	late := newDevice(t, r, srv.URL, fastOpts()) // provisioned, never refreshed
	before := snapshotRepo(t, r)

	oldTS, ts2 := onlineKey(t, r, metadata.TIMESTAMP), genKey(t, "timestamp-2")
	mustRotate(t, r, keyring(r.Keys, rk[0], rk[1], ts2), repo.RotateOptions{Role: metadata.TIMESTAMP, AddKeys: []*metadata.Key{ts2.Public}, RemoveKeys: []string{oldTS.ID()}})
	d.mustUpdate("1.0.0") // the refresh brings root v2
	if v := d.trustedRootVersion(); v != 2 {
		t.Fatalf("device trusts root v%d", v)
	}

	// The attacker's repository: the genuine one, with a newer timestamp
	// signed by the revoked key.
	evil := snapshotRepo(t, r)
	f := forge(t, evil)
	f.publishTimestamp(signerOf(t, oldTS))
	srv.set(dirHandler(evil))
	d.wantFail(client.MetadataSignatureInvalid, "1.0.0")

	// The window: a device that never fetched root v2, served a copy
	// without it, still accepts the old key's timestamp.
	g := forge(t, before)
	g.publishTimestamp(signerOf(t, oldTS))
	srv.set(dirHandler(before))
	if _, err := late.update(client.UpdateRequest{}); err != nil {
		t.Fatalf("device on root v1: %v", err)
	}
	// Once the genuine repository reaches it, that device rejects the old
	// key too (its timestamp version is now ahead of the genuine one, so
	// the genuine repository re-signs a newer one first).
	srv.set(dirHandler(r.Dir))
	r.Keys.Add(ts2)
	delete(r.Keys, oldTS.ID())
	r.Timestamp(t)
	r.Timestamp(t)
	late.mustUpdate("1.0.0")
	if v := late.trustedRootVersion(); v != 2 {
		t.Fatalf("late device trusts root v%d", v)
	}
	srv.set(dirHandler(evil))
	late.wantFail(client.MetadataSignatureInvalid, "1.0.0")
}
