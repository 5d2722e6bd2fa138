package client_test

// Listing a model's versions through its version index in a repository
// delegated to succinct hash bins (contract section 5, package listing):
// the device downloads only the bins it needs, and whatever the index
// says, everything it uses about a version comes from that version's own
// lookup.

import (
	"crypto/sha256"
	"encoding/hex"
	"math/bits"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// binnedRepo is a repository whose top-level targets delegates every path
// to n succinct hash bins named bins-*, signed by bk.
type binnedRepo struct {
	*testrepo.Repo
	bk   *keys.Key
	bins metadata.SuccinctRoles
}

func newBinnedRepo(t testing.TB, n int) *binnedRepo {
	t.Helper()
	r := newRepo(t)
	bk, pub := testrepo.TeamKey(t, "bins")
	r.Delegate(t, delegation.Options{Bins: n, NamePrefix: "bins", Keys: []*metadata.Key{pub}}, bk)
	return &binnedRepo{Repo: r, bk: bk, bins: metadata.SuccinctRoles{BitLength: bits.Len(uint(n)) - 1, NamePrefix: "bins"}}
}

// binOf is the bin a target path hashes to.
func (b *binnedRepo) binOf(p string) string { return b.bins.GetRolesForTarget(p)[0].Name }

// publish publishes model versions into the bins (without an index).
func (b *binnedRepo) publish(t testing.TB, versions ...string) {
	t.Helper()
	kr := b.OnlineKeyring(t, b.bk)
	for _, v := range versions {
		b.PublishAs(t, kr, model, v, bundle(seedOf(v), smallSize), targets.Compat{}, repo.AddOptions{})
	}
}

// putInBins signs each target of signed into the bin its path hashes to,
// with the bins' key, in one publication, and stores served[path] (the
// signed bytes if absent) as its file: what mrepo does for a version
// index, and how these tests serve a wrong one.
func (b *binnedRepo) putInBins(t testing.TB, signed, served map[string][]byte) {
	t.Helper()
	byBin := map[string][]string{}
	for p, data := range signed {
		byBin[b.binOf(p)] = append(byBin[b.binOf(p)], p)
		body, ok := served[p]
		if !ok {
			body = data
		}
		sum := sha256.Sum256(data)
		file := filepath.Join(b.Dir, "targets", filepath.FromSlash(path.Dir(p)), hex.EncodeToString(sum[:])+"."+path.Base(p))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := testrepo.ForgeRolesDir(b.Dir, slices.Sorted(mapKeys(byBin)), func(role string, tg map[string]*metadata.TargetFiles) error {
		for _, p := range byBin[role] {
			tf, err := metadata.TargetFile().FromBytes(p, signed[p], "sha256")
			if err != nil {
				return err
			}
			tf.Path = p
			tg[p] = tf
		}
		return nil
	}, b.signers(t))
	if err != nil {
		t.Fatal(err)
	}
}

// signers sign the bins (with their key), the snapshot and the timestamp.
func (b *binnedRepo) signers(t testing.TB) testrepo.ControlSigners {
	t.Helper()
	bk, err := b.bk.Signer()
	if err != nil {
		t.Fatal(err)
	}
	s := b.Signers(t)
	s.Targets = bk
	return s
}

// dropIndex removes the model's version index from its bin (mrepo signs
// one with every publication into bins): the device then lists the model
// from every bin that may list it.
func (b *binnedRepo) dropIndex(t testing.TB) {
	t.Helper()
	ix := targets.VersionIndexPath(model)
	err := testrepo.ForgeRolesDir(b.Dir, []string{b.binOf(ix)}, func(_ string, tg map[string]*metadata.TargetFiles) error {
		delete(tg, ix)
		return nil
	}, b.signers(t))
	if err != nil {
		t.Fatal(err)
	}
}

// putIndex publishes the model's version index naming versions.
func (b *binnedRepo) putIndex(t testing.TB, versions ...string) {
	t.Helper()
	vi, err := targets.NewVersionIndex(model, versions)
	if err != nil {
		t.Fatal(err)
	}
	b.putInBins(t, map[string][]byte{targets.VersionIndexPath(model): vi.Marshal()}, nil)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// binsFetched are the bins the device downloaded, sorted.
func binsFetched(s *server) []string {
	var out []string
	for _, r := range s.requests("/metadata/") {
		name := strings.TrimSuffix(path.Base(r.Path), ".json")
		if _, role, ok := strings.Cut(name, "."); ok && strings.HasPrefix(role, "bins-") {
			out = append(out, role)
		}
	}
	slices.Sort(out)
	return out
}

// wantBins are the bins of the given target paths, sorted, each once.
func (b *binnedRepo) wantBins(paths ...string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, b.binOf(p))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestIndexListing: in a 256-bin repository, a device updating one model
// downloads the timestamp, snapshot and top-level targets, the bin of the
// model's index, the index, the bin of the newest version's manifest and
// the bins of its files: never the other bins. A second run downloads no
// bin and not the index again; after a publication, only what changed.
func TestIndexListing(t *testing.T) {
	t.Parallel()
	b := newBinnedRepo(t, 256)
	b.publish(t, "1.0.0", "1.1.0", "2.0.0")
	b.putIndex(t, "1.0.0", "1.1.0", "2.0.0")
	srv := serveRepo(t, b.Repo)
	d := newDevice(t, b.Repo, srv.URL, fastOpts())
	d.mustUpdate("2.0.0")
	ix := targets.VersionIndexPath(model)
	want := b.wantBins(ix, targets.ManifestPath(model, "2.0.0"), targets.TargetPath(model, "2.0.0", "model.bin"), targets.TargetPath(model, "2.0.0", "labels.txt"))
	if got := binsFetched(srv); !slices.Equal(got, want) {
		t.Fatalf("bins fetched %v, want %v", got, want)
	}
	if n := len(srv.requests("/targets/models/" + model + "/")); n != 1+3 { // the index, the manifest, two payload files
		t.Errorf("%d target requests: %v", n, srv.requests("/targets/"))
	}
	// Besides the bins: the next root (a 404), the timestamp, the snapshot
	// and top-level targets, once each.
	var others []string
	for _, r := range srv.requests("/metadata/") {
		if !strings.Contains(r.Path, ".bins-") {
			others = append(others, r.Path)
		}
	}
	slices.Sort(others)
	wantOthers := []string{"/metadata/2.root.json", newestMeta(t, b.Dir, metadata.SNAPSHOT), newestMeta(t, b.Dir, metadata.TARGETS), "/metadata/timestamp.json"}
	slices.Sort(wantOthers)
	if !slices.Equal(others, wantOthers) {
		t.Errorf("metadata requests besides bins %v, want %v", others, wantOthers)
	}

	srv.reset()
	d.mustUpdate("2.0.0")
	if got := binsFetched(srv); len(got) != 0 {
		t.Errorf("an idle run fetched bins %v", got)
	}
	if n := len(srv.requests("/targets/")); n != 0 {
		t.Errorf("an idle run fetched targets %v", srv.requests("/targets/"))
	}

	srv.reset()
	b.publish(t, "2.1.0")
	b.putIndex(t, "1.0.0", "1.1.0", "2.0.0", "2.1.0")
	d.mustUpdate("2.1.0")
	changed := b.wantBins(ix, targets.ManifestPath(model, "2.1.0"), targets.TargetPath(model, "2.1.0", "model.bin"), targets.TargetPath(model, "2.1.0", "labels.txt"))
	if got := binsFetched(srv); !slices.Equal(got, changed) {
		t.Errorf("after a publication, bins fetched %v, want %v", got, changed)
	}
}

// TestIndexNamesMissingVersion: the index names a version that has no
// manifest: it is skipped as TARGET_NOT_FOUND and the next one installed.
func TestIndexNamesMissingVersion(t *testing.T) {
	t.Parallel()
	b := newBinnedRepo(t, 256)
	b.publish(t, "1.0.0", "2.0.0")
	b.putIndex(t, "1.0.0", "2.0.0", "3.0.0")
	d := newDevice(t, b.Repo, serveRepo(t, b.Repo).URL, fastOpts())
	res := d.mustUpdate("2.0.0")
	if skippedCode(res, "3.0.0") != client.TargetNotFound {
		t.Fatalf("3.0.0 not skipped as TARGET_NOT_FOUND: %+v", res.Skipped)
	}
}

// TestIndexHidesVersion: an index that omits the newest version hides it
// (what the bins' key holder can do anyway, by not listing its manifest):
// the device takes the newest version the index names. Documented in
// docs/client.md.
func TestIndexHidesVersion(t *testing.T) {
	t.Parallel()
	b := newBinnedRepo(t, 256)
	b.publish(t, "1.0.0", "1.1.0", "2.0.0")
	b.putIndex(t, "1.0.0", "1.1.0")
	d := newDevice(t, b.Repo, serveRepo(t, b.Repo).URL, fastOpts())
	d.mustUpdate("1.1.0")
}

// onV1Binned is a 256-bin repository with 1.0.0 published and indexed,
// and a device on it.
func onV1Binned(t *testing.T) (*binnedRepo, *server, *device) {
	t.Helper()
	b := newBinnedRepo(t, 256)
	b.publish(t, "1.0.0")
	b.putIndex(t, "1.0.0")
	srv := serveRepo(t, b.Repo)
	d := newDevice(t, b.Repo, srv.URL, fastOpts())
	d.mustUpdate("1.0.0")
	return b, srv, d
}

// TestIndexBytesMismatch: the index served does not match the hash its
// bin signs: HASH_MISMATCH, nothing installed, the active version kept.
func TestIndexBytesMismatch(t *testing.T) {
	t.Parallel()
	b, srv, d := onV1Binned(t)
	b.publish(t, "2.0.0")
	ix := targets.VersionIndexPath(model)
	forged, _ := targets.NewVersionIndex(model, []string{"1.0.0", "2.0.0"})
	good, _ := targets.NewVersionIndex(model, []string{"1.0.0", "2.0.1"}) // same length, other bytes
	b.putInBins(t, map[string][]byte{ix: good.Marshal()}, map[string][]byte{ix: forged.Marshal()})
	d.wantFail(client.HashMismatch, "1.0.0")
	d.wantNotInstalled("2.0.0")
	if n := payloadRequests(srv, "2.0.0"); n != 0 {
		t.Fatalf("%d requests for files of 2.0.0", n)
	}
}

// TestIndexOversized: an index signed larger than the 1 MiB bound is
// refused as LENGTH_EXCEEDED before a byte of it is requested.
func TestIndexOversized(t *testing.T) {
	t.Parallel()
	b := newBinnedRepo(t, 256)
	b.publish(t, "1.0.0")
	big := make([]byte, targets.MaxVersionIndexSize+1)
	b.putInBins(t, map[string][]byte{targets.VersionIndexPath(model): big}, nil)
	srv := serveRepo(t, b.Repo)
	d := newDevice(t, b.Repo, srv.URL, fastOpts())
	d.wantFail(client.LengthExceeded, "")
	if got := srv.requests("/targets/"); len(got) != 0 {
		t.Fatalf("target requests %v", got)
	}
}

// TestIndexRevokedActive: the active version is revoked and the index no
// longer names it: the device finds the revocation through the lookup of
// its own manifest (one bin) and steps down.
func TestIndexRevokedActive(t *testing.T) {
	t.Parallel()
	b := newBinnedRepo(t, 256)
	b.publish(t, "1.0.0", "1.1.0")
	b.putIndex(t, "1.0.0", "1.1.0")
	d := newDeviceInit(t, b.Repo, client.InitOptions{RepoURL: serveRepo(t, b.Repo).URL, DeviceID: "dev-1"}, rolloutOpts())
	d.mustUpdate("1.1.0")
	b.revoke(t, "1.1.0")
	b.putIndex(t, "1.0.0")
	d.wantSteppedDownTo("1.0.0")
}

// TestCDNNotFoundBin: the CDN cached a 404 for the new version of the bin
// that lists the new manifest; the device fetches it once past the cache.
func TestCDNNotFoundBin(t *testing.T) {
	t.Parallel()
	b, srv, d := onV1Binned(t)
	b.publish(t, "1.1.0")
	b.putIndex(t, "1.0.0", "1.1.0")
	bin := newestMeta(t, b.Dir, b.binOf(targets.ManifestPath(model, "1.1.0")))
	cdn := newLagCDN(dirHandler(b.Dir), at(notFound, bin))
	srv.set(cdn)
	d.mustUpdate("1.1.0")
	cdn.wantBusted(t, bin)
}
