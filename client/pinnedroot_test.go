package client_test

// The pinned root kept in the device image (InitOptions.PinnedRoot, mclient
// init --root-readonly): read on every session, every cached root must
// chain from it, and a state directory whose metadata does not is refused
// (ROOT_CHAIN_BROKEN) with the active model unchanged, then repaired by
// the next update from the pinned root.

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// imageRoot writes a root into a directory standing for the device image
// (read-only) and returns its path.
func imageRoot(t *testing.T, root []byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "image")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "root.json")
	setImageRoot(t, p, root)
	return p
}

// setImageRoot replaces the image's root (an image update).
func setImageRoot(t *testing.T, p string, root []byte) {
	t.Helper()
	os.Chmod(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p+".tmp", root, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(p), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Dir(p), 0o755) })
}

// pinnedDevice initialises a device that reads its pinned root from the
// image path pinned.
func pinnedDevice(t *testing.T, r *testrepo.Repo, url, pinned string, opts client.Options) *device {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	root, err := os.ReadFile(pinned)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Init(dir, root, client.InitOptions{RepoURL: url, PinnedRoot: pinned}); err != nil {
		t.Fatalf("init: %v", err)
	}
	c, err := client.Open(dir, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return &device{t: t, dir: dir, c: c, r: r}
}

// repoRoot is root version v as the repository publishes it.
func repoRoot(t *testing.T, r *testrepo.Repo, v int) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.Dir, "metadata", itoa(v)+".root.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func itoa(v int) string { return strconv.Itoa(v) }

// rotateRoots publishes root versions until the repository's root is at
// version to, each replacing the snapshot key (signed by root-1 and
// root-2, which every version keeps).
func rotateRoots(t *testing.T, r *testrepo.Repo, rk []*keys.Key, to int) {
	t.Helper()
	for forge(t, r.Dir).root.Signed.Version < int64(to) {
		old, nk := onlineKey(t, r, metadata.SNAPSHOT), genKey(t, "snapshot")
		mustRotate(t, r, keyring(r.Keys, rk[0], rk[1], nk), repo.RotateOptions{Role: metadata.SNAPSHOT, AddKeys: []*metadata.Key{nk.Public}, RemoveKeys: []string{old.ID()}})
		delete(r.Keys, old.ID())
		r.Keys.Add(nk)
	}
}

func (d *device) wantNoCopyOfRoot() {
	d.t.Helper()
	if _, err := os.Lstat(d.path("trusted-root.json")); !os.IsNotExist(err) {
		d.t.Fatalf("the state directory holds trusted-root.json (%v)", err)
	}
}

// wantChainAt checks that the device trusts the repository's root
// version v: metadata/root.json is it, and root-chain/ holds each
// version after the pinned one up to it.
func (d *device) wantChainAt(v, pinned int) {
	d.t.Helper()
	if got, _ := os.ReadFile(d.path("metadata", "root.json")); !bytes.Equal(got, repoRoot(d.t.(*testing.T), d.r, v)) {
		d.t.Fatalf("metadata/root.json is not the repository's root v%d", v)
	}
	for i := pinned + 1; i <= v; i++ {
		got, err := os.ReadFile(d.path("root-chain", itoa(i)+".root.json"))
		if err != nil || !bytes.Equal(got, repoRoot(d.t.(*testing.T), d.r, i)) {
			d.t.Fatalf("root-chain/%d.root.json is not the repository's root v%d (%v)", i, i, err)
		}
	}
}

// TestPinnedRootReadOnly: a device whose pinned root stays in the image
// keeps no copy of it, follows root rotations recording each root it
// verified, and reads the image's root on every command: without it,
// update, status's verify and verify fail PINNED_ROOT_UNUSABLE, even with
// a copy planted in the state directory.
func TestPinnedRootReadOnly(t *testing.T) {
	t.Parallel()
	r, rk := rotRepo(t)
	publish(t, r, smallSize, "1.0.0")
	srv := serveRepo(t, r)
	pinned := imageRoot(t, r.Root)
	d := pinnedDevice(t, r, srv.URL, pinned, fastOpts())
	d.wantNoCopyOfRoot()
	d.mustUpdate("1.0.0")
	rotateRoots(t, r, rk, 3)
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
	d.wantChainAt(3, 1)
	d.wantNoCopyOfRoot()

	for name, set := range map[string]func(){
		"removed": func() { os.Chmod(filepath.Dir(pinned), 0o755); os.Remove(pinned) },
		"garbage": func() { setImageRoot(t, pinned, []byte("{not a root")) },
		"unsigned": func() {
			var root metadata.Metadata[metadata.RootType]
			m, _ := metadata.Root().FromBytes(r.Root)
			root = *m
			root.Signatures = nil
			b, _ := root.ToBytes(false)
			setImageRoot(t, pinned, b)
		},
	} {
		set()
		// A copy of the genuine root planted where the copy mode keeps it
		// changes nothing.
		os.WriteFile(d.path("trusted-root.json"), r.Root, 0o600)
		res, err := d.update(client.UpdateRequest{})
		if client.CodeOf(err) != client.PinnedRootUnusable || res.Version != "1.1.0" {
			t.Fatalf("%s: update: %v (%+v)", name, err, res)
		}
		if st := d.status(); st.Version != "1.1.0" {
			t.Fatalf("%s: status %+v", name, st)
		}
		if _, err := d.c.Verify(model); client.CodeOf(err) != client.PinnedRootUnusable {
			t.Fatalf("%s: verify: %v", name, err)
		}
		os.Remove(d.path("trusted-root.json"))
		setImageRoot(t, pinned, r.Root)
	}
	d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
}

// TestPinnedRootCacheReplaced: the trusted root cached in the state
// directory replaced (by a validly signed root of another repository, an
// older root of the same chain, garbage, or removed), a root in the chain
// cache replaced, or the whole metadata directory copied from a device of
// another repository: the next update fails ROOT_CHAIN_BROKEN, the active
// model stays (and verifies), and the update after it recovers from the
// pinned root (the cache is dropped and rebuilt from the repository).
func TestPinnedRootCacheReplaced(t *testing.T) {
	t.Parallel()
	r, rk := rotRepo(t)
	publish(t, r, smallSize, "1.0.0")
	rotateRoots(t, r, rk, 3)
	srv := serveRepo(t, r)
	other := newRepo(t)
	publish(t, other, smallSize, "1.0.0")
	otherSrv := serveRepo(t, other)
	otherDev := newDevice(t, other, otherSrv.URL, fastOpts())
	otherDev.mustUpdate("1.0.0")

	for name, tamper := range map[string]func(d *device){
		"root of another repository": func(d *device) { write(t, d.path("metadata", "root.json"), other.Root) },
		"older root":                 func(d *device) { write(t, d.path("metadata", "root.json"), repoRoot(t, r, 2)) },
		"pinned root as cached root": func(d *device) { write(t, d.path("metadata", "root.json"), r.Root) },
		"garbage":                    func(d *device) { write(t, d.path("metadata", "root.json"), []byte(`{"signed":`)) },
		"removed":                    func(d *device) { os.Remove(d.path("metadata", "root.json")) },
		"chain root of another repository": func(d *device) {
			write(t, d.path("root-chain", "2.root.json"), other.Root)
		},
		"chain root garbage": func(d *device) { write(t, d.path("root-chain", "3.root.json"), []byte("garbage")) },
		"chain root beyond the newest": func(d *device) {
			write(t, d.path("root-chain", "4.root.json"), repoRoot(t, r, 3))
		},
		"chain cache removed": func(d *device) { os.RemoveAll(d.path("root-chain")) },
		"metadata of another device": func(d *device) {
			os.RemoveAll(d.path("metadata"))
			copyTree(t, otherDev.path("metadata"), d.path("metadata"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := pinnedDevice(t, r, srv.URL, imageRoot(t, r.Root), fastOpts())
			d.mustUpdate("1.0.0")
			d.wantChainAt(3, 1)
			tamper(d)
			res, err := d.update(client.UpdateRequest{})
			if client.CodeOf(err) != client.RootChainBroken || res.Code != client.RootChainBroken || res.Version != "1.0.0" {
				t.Fatalf("update: %v (%+v)", err, res)
			}
			// The active model is unchanged. (verify may fail closed
			// until the next update: its copy of the metadata was
			// verified with a root the chain cache no longer holds.)
			if st := d.status(); st.Version != "1.0.0" || st.Trial {
				t.Fatalf("status %+v", st)
			}
			d.wantInstalledIntact("1.0.0")
			// Recovery: re-bootstrap from the pinned root.
			d.mustUpdate("1.0.0")
			d.wantActive("1.0.0")
			d.wantChainAt(3, 1)
		})
	}
}

// TestPinnedRootVerifiedCopyReplaced: the copy of the metadata that
// offline commands read (metadata-verified/) with a root that does not
// chain from the pinned root: verify and status fail ROOT_CHAIN_BROKEN;
// the next update replaces the copy and verify works again.
func TestPinnedRootVerifiedCopyReplaced(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, smallSize, "1.0.0")
	srv := serveRepo(t, r)
	other, _ := rotRepo(t) // other keys
	d := pinnedDevice(t, r, srv.URL, imageRoot(t, r.Root), fastOpts())
	d.mustUpdate("1.0.0")
	write(t, d.path("metadata-verified", "root.json"), other.Root)
	if _, err := d.c.Verify(model); client.CodeOf(err) != client.RootChainBroken {
		t.Fatalf("verify: %v", err)
	}
	d.mustUpdate("1.0.0")
	d.wantActive("1.0.0")
}

// TestPinnedRootImageUpdate: an image update ships a newer pinned root.
// Root v3 pinned while the state has v2 to v5 cached: the chain starts at
// v3; root v6 pinned while the state has v5: the pinned root is newer than
// anything cached and the device goes on from it.
func TestPinnedRootImageUpdate(t *testing.T) {
	t.Parallel()
	r, rk := rotRepo(t)
	publish(t, r, smallSize, "1.0.0")
	srv := serveRepo(t, r)
	pinned := imageRoot(t, r.Root)
	d := pinnedDevice(t, r, srv.URL, pinned, fastOpts())
	d.mustUpdate("1.0.0")
	rotateRoots(t, r, rk, 5)
	d.mustUpdate("1.0.0")
	d.wantChainAt(5, 1)

	setImageRoot(t, pinned, repoRoot(t, r, 3))
	d.mustUpdate("1.0.0")
	d.wantActive("1.0.0")
	d.wantChainAt(5, 3)

	rotateRoots(t, r, rk, 7)
	publish(t, r, smallSize, "1.1.0")
	setImageRoot(t, pinned, repoRoot(t, r, 6))
	d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
	d.wantChainAt(7, 6)
}

// TestPinnedRootRequired: an application that requires its image's root
// (Options.PinnedRoot) refuses a state directory that keeps a copy of its
// root, or reads it from another path: ROOT_CHAIN_BROKEN for update and
// verify, nothing changed.
func TestPinnedRootRequired(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, smallSize, "1.0.0")
	srv := serveRepo(t, r)
	pinned := imageRoot(t, r.Root)

	copyDev := newDevice(t, r, srv.URL, fastOpts())
	copyDev.mustUpdate("1.0.0")
	elsewhere := pinnedDevice(t, r, srv.URL, imageRoot(t, r.Root), fastOpts())
	elsewhere.mustUpdate("1.0.0")
	for _, d := range []*device{copyDev, elsewhere} {
		opts := fastOpts()
		opts.PinnedRoot = pinned
		d.reopen(opts)
		res, err := d.update(client.UpdateRequest{})
		if client.CodeOf(err) != client.RootChainBroken || res.Version != "1.0.0" {
			t.Fatalf("update: %v (%+v)", err, res)
		}
		if _, err := d.c.Verify(model); client.CodeOf(err) != client.RootChainBroken {
			t.Fatalf("verify: %v", err)
		}
	}
	ok := pinnedDevice(t, r, srv.URL, pinned, client.Options{PinnedRoot: pinned, RetryBackoff: fastOpts().RetryBackoff})
	ok.mustUpdate("1.0.0")
	ok.wantActive("1.0.0")
}

func write(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPinnedRootCodesDocumented: the two codes are spelled as documented,
// rows of docs/error-codes.md, and neither is a deferral.
func TestPinnedRootCodesDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/error-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[client.Code]string{client.RootChainBroken: "ROOT_CHAIN_BROKEN", client.PinnedRootUnusable: "PINNED_ROOT_UNUSABLE"} {
		if string(code) != want || !bytes.Contains(doc, []byte("| `"+want+"` |")) || client.IsDeferral(code) {
			t.Errorf("%s: spelled %s, or not a row of docs/error-codes.md, or a deferral", want, code)
		}
	}
}

// TestPinnedRootChainDirLink: root-chain/ (or a file in it) that is a
// symbolic link fails STATE_INVALID, as the metadata directories do, and
// what it points to is neither read nor changed.
func TestPinnedRootChainDirLink(t *testing.T) {
	t.Parallel()
	r, rk := rotRepo(t)
	publish(t, r, smallSize, "1.0.0")
	rotateRoots(t, r, rk, 2)
	srv := serveRepo(t, r)
	d := pinnedDevice(t, r, srv.URL, imageRoot(t, r.Root), fastOpts())
	d.mustUpdate("1.0.0")
	active, _ := os.ReadFile(d.path("models", model, "active.json"))
	outside := filepath.Join(t.TempDir(), "outside")
	copyTree(t, d.path("root-chain"), outside)
	for name, plant := range map[string]func(){
		"directory": func() { os.RemoveAll(d.path("root-chain")); os.Symlink(outside, d.path("root-chain")) },
		"file": func() {
			os.Remove(d.path("root-chain", "2.root.json"))
			os.Symlink(filepath.Join(outside, "2.root.json"), d.path("root-chain", "2.root.json"))
		},
	} {
		plant()
		res, err := d.update(client.UpdateRequest{})
		if client.CodeOf(err) != client.StateInvalid || res.Code != client.StateInvalid {
			t.Fatalf("%s: update: %v (%+v)", name, err, res)
		}
		if got, _ := os.ReadFile(d.path("models", model, "active.json")); !bytes.Equal(got, active) {
			t.Fatalf("%s: active.json changed", name)
		}
		if got, _ := os.ReadFile(filepath.Join(outside, "2.root.json")); !bytes.Equal(got, repoRoot(t, r, 2)) {
			t.Fatalf("%s: the file outside changed", name)
		}
		os.Remove(d.path("root-chain"))
		os.RemoveAll(d.path("root-chain"))
		copyTree(t, outside, d.path("root-chain"))
		d.mustUpdate("1.0.0")
		d.wantActive("1.0.0")
	}
}
