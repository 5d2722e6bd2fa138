package client_test

// Attacks on the device's update path: tampered payloads, manifests and
// metadata, wrong or missing signatures, swapped targets, rollback and
// freeze. Each test asserts the error code, that the active model is
// unchanged and still verifies, and that nothing of the attacker's ended
// up installed.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

const smallSize = 64 << 10

// onV1 returns a repository with 1.0.0 published, its server, and a
// device on which 1.0.0 is active and confirmed.
func onV1(t *testing.T) (*testrepo.Repo, *server, *device) {
	t.Helper()
	r := newRepo(t)
	publish(t, r, smallSize, "1.0.0")
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	d.mustUpdate("1.0.0")
	srv.reset()
	return r, srv, d
}

// wantNotInstalled checks that version v left nothing behind: not
// installed, nothing staged.
func (d *device) wantNotInstalled(v string) {
	d.t.Helper()
	st := d.status()
	if contains(st.Installed, v) {
		d.t.Fatalf("%s is installed: %v", v, st.Installed)
	}
	if _, err := os.Stat(d.path("models", model, v)); !os.IsNotExist(err) {
		d.t.Fatalf("models/%s/%s exists (%v)", model, v, err)
	}
	for name, size := range d.stagedFiles() {
		if strings.HasSuffix(name, "model.bin.part") && size > 0 {
			d.t.Fatalf("staged %s (%d bytes) kept after a rejected download", name, size)
		}
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedPayloadByteRejected(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	file := r.TargetFile(t, targets.TargetPath(model, "1.1.0", "model.bin"))
	flipByte(t, file, smallSize/2)

	d.wantFail(client.HashMismatch, "1.0.0")
	d.wantNotInstalled("1.1.0")
	if len(srv.requests("/targets/models/det/1.1.0/")) == 0 {
		t.Fatal("the tampered payload was never requested: the test proves nothing")
	}
	// A server fault is not the version's fault: once the bytes are right,
	// the same version installs.
	if st := d.status(); contains(st.BadVersions, "1.1.0") {
		t.Fatalf("1.1.0 marked bad after a transfer fault: %v", st.BadVersions)
	}
	flipByte(t, file, smallSize/2)
	d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
}

func TestTamperedManifestRejectedBeforePayload(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	mf := r.TargetFile(t, targets.ManifestPath(model, "1.1.0"))
	data, err := os.ReadFile(mf)
	if err != nil {
		t.Fatal(err)
	}
	// Same length, different bytes: only the hash can tell.
	evil := strings.Replace(string(data), `"det"`, `"dEt"`, 1)
	if evil == string(data) {
		t.Fatalf("manifest has no model id to alter: %s", data)
	}
	os.WriteFile(mf, []byte(evil), 0o644)

	d.wantFail(client.HashMismatch, "1.0.0")
	d.wantNotInstalled("1.1.0")
	for _, rq := range srv.requests("/targets/") {
		if !strings.HasSuffix(rq.Path, ".manifest.json") {
			t.Fatalf("payload %s requested although the manifest was rejected", rq.Path)
		}
	}
}

// editCustom changes the signed custom metadata of a target.
func editCustom(t *testing.T, f *forged, targetPath string, edit func(*targets.Custom)) {
	t.Helper()
	tf := f.tg.Signed.Targets[targetPath]
	if tf == nil {
		t.Fatalf("no target %s", targetPath)
	}
	c, err := targets.ParseCustom(targetPath, tf.Custom)
	if err != nil {
		t.Fatal(err)
	}
	edit(c)
	if tf.Custom, err = c.Marshal(); err != nil {
		t.Fatal(err)
	}
}

// TestAlteredMetadataRejected alters what the targets role signs (an
// incompatible version's constraint dropped, and a payload's hash pointed
// at the attacker's file), then publishes it with the signatures each kind
// of attacker can make.
func TestAlteredMetadataRejected(t *testing.T) {
	t.Parallel()
	newer := func(t *testing.T) (*testrepo.Repo, *server, *device, *forged, string) {
		r := newRepo(t)
		publish(t, r, smallSize, "1.0.0")
		// 1.1.0 needs app 3.0; the device runs 2.0.
		r.Publish(t, model, "1.1.0", bundle(seedOf("1.1.0"), smallSize), targets.Compat{MinAppVersion: "3.0"})
		srv := serveRepo(t, r)
		d := newDevice(t, r, srv.URL, fastOpts())
		res, err := d.update(client.UpdateRequest{Device: client.Device{AppVersion: "2.0"}})
		if err != nil || res.Version != "1.0.0" {
			t.Fatalf("setup: %v %+v", err, res)
		}
		// The attacker's copy of the repository: 1.1.0 made to look
		// compatible, its model.bin replaced by the attacker's file.
		evilDir := snapshotRepo(t, r)
		f := forge(t, evilDir)
		editCustom(t, f, targets.ManifestPath(model, "1.1.0"), func(c *targets.Custom) { c.MinAppVersion = "" })
		evil := []byte("attacker's model")
		sum := sha256.Sum256(evil)
		mb := f.tg.Signed.Targets[targets.TargetPath(model, "1.1.0", "model.bin")]
		mb.Length, mb.Hashes = int64(len(evil)), metadata.Hashes{"sha256": sum[:]}
		evilPath := filepath.Join(evilDir, "targets", "models", model, "1.1.0", fmt.Sprintf("%x.model.bin", sum))
		if err := os.WriteFile(evilPath, evil, 0o644); err != nil {
			t.Fatal(err)
		}
		srv.set(dirHandler(evilDir))
		srv.reset()
		return r, srv, d, f, "/targets/models/det/1.1.0/" + filepath.Base(evilPath)
	}
	dev := client.UpdateRequest{Device: client.Device{AppVersion: "2.0"}}
	check := func(t *testing.T, d *device, srv *server, code client.Code, evilURL string) {
		t.Helper()
		res, err := d.update(dev)
		if got := client.CodeOf(err); got != code {
			t.Fatalf("code %q (%v), want %q", got, err, code)
		}
		if res.Code != code || res.Version != "1.0.0" {
			t.Fatalf("result %+v", res)
		}
		d.wantActive("1.0.0")
		d.wantNotInstalled("1.1.0")
		for _, rq := range srv.requests("/targets/") {
			if rq.Path == evilURL {
				t.Fatalf("the attacker's file was downloaded")
			}
		}
	}

	t.Run("online keys compromised, targets signature stale", func(t *testing.T) {
		r, srv, d, f, evilURL := newer(t)
		f.publishAll(nil, trustedSigner(t, r, "snapshot"), trustedSigner(t, r, "timestamp"))
		check(t, d, srv, client.SignatureInvalid, evilURL)
	})
	t.Run("targets signed by an untrusted key", func(t *testing.T) {
		r, srv, d, f, evilURL := newer(t)
		f.publishAll(freshSigner(t), trustedSigner(t, r, "snapshot"), trustedSigner(t, r, "timestamp"))
		check(t, d, srv, client.SignatureInvalid, evilURL)
	})
	t.Run("targets unsigned", func(t *testing.T) {
		r, srv, d, f, evilURL := newer(t)
		f.tg.ClearSignatures()
		f.publishAll(nil, trustedSigner(t, r, "snapshot"), trustedSigner(t, r, "timestamp"))
		check(t, d, srv, client.SignatureInvalid, evilURL)
	})
	t.Run("everything signed by a fresh key set", func(t *testing.T) {
		_, srv, d, f, evilURL := newer(t)
		evil := freshSigner(t)
		f.publishAll(evil, evil, evil)
		check(t, d, srv, client.MetadataSignatureInvalid, evilURL)
	})
	t.Run("new root signed by the attacker", func(t *testing.T) {
		_, srv, d, f, evilURL := newer(t)
		evil := freshSigner(t)
		pub, err := evil.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		key, err := metadata.KeyFromPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		id, err := key.ID()
		if err != nil {
			t.Fatal(err)
		}
		root := f.root
		root.Signed.Version++
		root.Signed.Keys = map[string]*metadata.Key{id: key}
		for _, role := range root.Signed.Roles {
			role.KeyIDs, role.Threshold = []string{id}, 1
		}
		root.ClearSignatures()
		if _, err := root.Sign(evil); err != nil {
			t.Fatal(err)
		}
		if err := root.ToFile(f.meta(fmt.Sprintf("%d.root.json", root.Signed.Version)), true); err != nil {
			t.Fatal(err)
		}
		f.publishAll(evil, evil, evil)
		check(t, d, srv, client.MetadataSignatureInvalid, evilURL)
		if len(srv.requests("/metadata/2.root.json")) == 0 {
			t.Fatal("the forged root was never requested")
		}
	})
	t.Run("signed by the real targets key, manifest disagrees", func(t *testing.T) {
		// Whoever holds the targets key can publish anything; the client
		// still refuses a version whose signed custom metadata disagrees
		// with its (hash-checked) manifest, and never fetches the payload.
		r, srv, d, f, evilURL := newer(t)
		f.publishAll(trustedSigner(t, r, "targets"), trustedSigner(t, r, "snapshot"), trustedSigner(t, r, "timestamp"))
		check(t, d, srv, client.ManifestInvalid, evilURL)
		if got := srv.requests("/targets/"); len(got) != 1 || !strings.HasSuffix(got[0].Path, ".manifest.json") {
			t.Fatalf("target requests %v, want the manifest only", got)
		}
	})
}

// TestEditedMetadataOnDisk edits the signed targets metadata of a new
// publication on the server, signing nothing: the snapshot's hash of it
// (and its signature) no longer match.
func TestEditedMetadataOnDisk(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	f := forge(t, r.Dir)
	tv := f.snap.Signed.Meta["targets.json"].Version
	name := filepath.Join(r.Dir, "metadata", fmt.Sprintf("%d.targets.json", tv))
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	// Point 1.1.0's model.bin at other bytes (same length).
	good := hex.EncodeToString(f.tg.Signed.Targets[targets.TargetPath(model, "1.1.0", "model.bin")].Hashes["sha256"])
	bad := fmt.Sprintf("%x", sha256.Sum256([]byte("attacker")))
	if !strings.Contains(string(data), good) {
		t.Fatalf("%s does not hold %s", name, good)
	}
	os.WriteFile(name, []byte(strings.ReplaceAll(string(data), good, bad)), 0o644)
	d.wantFail(client.MetadataInvalid, "1.0.0")
	d.wantNotInstalled("1.1.0")
	if got := srv.requests("/targets/"); len(got) != 0 {
		t.Fatalf("targets requested: %v", got)
	}
}

// TestSwappedTarget serves another version's bytes under the hash-named
// URL of the new version's file.
func TestSwappedTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		oldSize  int
		code     client.Code
		manifest bool
	}{
		{"same length", smallSize, client.HashMismatch, false},
		{"longer", smallSize + 4096, client.LengthExceeded, false},
		{"manifest", smallSize, client.HashMismatch, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t)
			publish(t, r, tc.oldSize, "1.0.0")
			srv := serveRepo(t, r)
			d := newDevice(t, r, srv.URL, fastOpts())
			d.mustUpdate("1.0.0")
			publish(t, r, smallSize, "1.1.0")
			file := "model.bin"
			if tc.manifest {
				file = targets.ManifestName
			}
			from := targetURLPath(t, r, targets.TargetPath(model, "1.1.0", file))
			to := targetURLPath(t, r, targets.TargetPath(model, "1.0.0", file))
			inner := dirHandler(r.Dir)
			var swapped atomic.Int32
			srv.set(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Path == from {
					swapped.Add(1)
					req.URL.Path = to
				}
				inner.ServeHTTP(w, req)
			}))
			d.wantFail(tc.code, "1.0.0")
			d.wantNotInstalled("1.1.0")
			if swapped.Load() == 0 {
				t.Fatal("the swapped file was never requested")
			}
		})
	}
}

// TestMixAndMatchMetadata serves an older targets metadata file under the
// newer version's name.
func TestMixAndMatchMetadata(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	old, err := os.ReadFile(filepath.Join(r.Dir, "metadata", "2.targets.json"))
	if err != nil {
		t.Fatal(err)
	}
	publish(t, r, smallSize, "1.1.0")
	inner := dirHandler(r.Dir)
	srv.set(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/metadata/3.targets.json" {
			w.Write(old)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	d.wantFail(client.MetadataInvalid, "1.0.0")
	d.wantNotInstalled("1.1.0")
}

// TestRollbackReplayRejected replays the repository as it was before N
// was published, after N is active.
func TestRollbackReplayRejected(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	old := snapshotRepo(t, r)
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0")

	srv.set(dirHandler(old))
	srv.reset()
	d.wantFail(client.RollbackRejected, "1.1.0")
	if got := srv.requests("/targets/"); len(got) != 0 {
		t.Fatalf("targets requested from a replayed repository: %v", got)
	}
	if st := d.status(); st.Floor != "1.1.0" {
		t.Fatalf("floor %q, want 1.1.0", st.Floor)
	}
	// The device still trusts the newest metadata: back on the real
	// repository it is simply up to date.
	srv.set(dirHandler(r.Dir))
	res := d.mustUpdate("1.1.0")
	if res.Outcome != client.OutcomeUpToDate {
		t.Fatalf("%+v", res)
	}
}

// writeFloor rewrites both copies of the anti-rollback store by hand.
func (d *device) writeFloor(v string) {
	d.t.Helper()
	rec := fmt.Sprintf(`{"model_id":%q,"floor":%q}`+"\n", model, v)
	for _, name := range []string{model + ".json", model + ".json.bak"} {
		if err := os.WriteFile(d.path("anti-rollback", name), []byte(rec), 0o600); err != nil {
			d.t.Fatal(err)
		}
	}
}

// storedFloors reads both copies of the anti-rollback store.
func (d *device) storedFloors() []string {
	d.t.Helper()
	var out []string
	for _, name := range []string{model + ".json", model + ".json.bak"} {
		var rec struct {
			Floor string `json:"floor"`
		}
		data, err := os.ReadFile(d.path("anti-rollback", name))
		if err != nil {
			d.t.Fatal(err)
		}
		if err := json.Unmarshal(data, &rec); err != nil {
			d.t.Fatal(err)
		}
		out = append(out, rec.Floor)
	}
	return out
}

// dropped serves a copy of r from which version v was removed, the
// metadata re-signed with the repository's own keys: a validly signed
// repository that offers only older versions.
func dropped(t *testing.T, r *testrepo.Repo, v string) http.Handler {
	t.Helper()
	dir := snapshotRepo(t, r)
	f := forge(t, dir)
	f.dropVersion(model, v)
	f.publishAll(trustedSigner(t, r, "targets"), trustedSigner(t, r, "snapshot"), trustedSigner(t, r, "timestamp"))
	return dirHandler(dir)
}

// TestRollbackVersionRemoved: after N is active, a validly signed
// repository offers only N-1. The device stays on N and downloads
// nothing; if its pointer is lost, the stored floor still refuses N-1.
func TestRollbackVersionRemoved(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0")

	srv.set(dropped(t, r, "1.1.0"))
	srv.reset()
	res, err := d.update(client.UpdateRequest{})
	if err != nil || res.Outcome != client.OutcomeUpToDate || res.Version != "1.1.0" || res.BytesDownloaded != 0 {
		t.Fatalf("update: %v %+v; want up to date on 1.1.0", err, res)
	}
	if len(srv.requests("/metadata/timestamp.json")) == 0 {
		t.Fatal("the forged repository was not consulted")
	}
	if got := srv.requests("/targets/"); len(got) != 0 {
		t.Fatalf("targets requested: %v", got)
	}
	if st := d.status(); st.Version != "1.1.0" || st.Floor != "1.1.0" {
		t.Fatalf("status %+v", st)
	}

	// Lose the pointer (as if models/det/active.json were deleted): the
	// stored floor alone refuses 1.0.0.
	if err := os.Remove(d.path("models", model, "active.json")); err != nil {
		t.Fatal(err)
	}
	srv.reset()
	res, err = d.update(client.UpdateRequest{})
	if client.CodeOf(err) != client.PolicyRejected || res.Version != "" {
		t.Fatalf("update: %v %+v; want POLICY_REJECTED with nothing active", err, res)
	}
	if got := srv.requests("/targets/"); len(got) != 0 {
		t.Fatalf("targets requested: %v", got)
	}
}

// TestFloorSurvivesStoreRewrite lowers the anti-rollback store by hand.
func TestFloorSurvivesStoreRewrite(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0")
	if got := d.storedFloors(); got[0] != "1.1.0" || got[1] != "1.1.0" {
		t.Fatalf("stored floors %v after confirming 1.1.0", got)
	}

	d.writeFloor("1.0.0")
	if st := d.status(); st.Floor != "1.1.0" {
		t.Fatalf("floor %q after the store was lowered, want 1.1.0", st.Floor)
	}
	// An update repairs the store, whatever the repository offers.
	res := d.mustUpdate("1.1.0")
	if res.Outcome != client.OutcomeUpToDate {
		t.Fatalf("%+v", res)
	}
	if got := d.storedFloors(); got[0] != "1.1.0" || got[1] != "1.1.0" {
		t.Fatalf("stored floors %v, want repaired to 1.1.0", got)
	}

	// Lowered again, and the repository offers only 1.0.0.
	d.writeFloor("1.0.0")
	srv.set(dropped(t, r, "1.1.0"))
	srv.reset()
	res = d.mustUpdate("1.1.0")
	if res.BytesDownloaded != 0 || len(srv.requests("/targets/")) != 0 {
		t.Fatalf("downloaded %d bytes, requests %v", res.BytesDownloaded, srv.requests("/targets/"))
	}
	if st := d.status(); st.Floor != "1.1.0" {
		t.Fatalf("floor %q", st.Floor)
	}

	// A store that does not parse fails closed: the update stops, the
	// active version stays.
	os.WriteFile(d.path("anti-rollback", model+".json.bak"), []byte("{garbage"), 0o600)
	res, err := d.update(client.UpdateRequest{})
	if client.CodeOf(err) != client.StateInvalid || res.Version != "1.1.0" {
		t.Fatalf("update with a damaged store: %v %+v", err, res)
	}
	if _, err := d.c.Status(model); client.CodeOf(err) != client.StateInvalid {
		t.Fatalf("status with a damaged store: %v", err)
	}
	d.wantInstalledIntact("1.1.0")
}

// TestFloorAfterExplicitRollback: an operator's rollback to the previous
// version does not lower the floor, and updates do not bring back the
// version rolled back from.
func TestFloorAfterExplicitRollback(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0")
	res, err := d.c.Rollback(model)
	if err != nil || res.Version != "1.0.0" {
		t.Fatalf("rollback: %v %+v", err, res)
	}
	st := d.status()
	if st.Version != "1.0.0" || st.Floor != "1.1.0" || !contains(st.BadVersions, "1.1.0") {
		t.Fatalf("status %+v", st)
	}
	srv.reset()
	res = d.mustUpdate("1.0.0")
	if res.Outcome != client.OutcomeUpToDate || len(srv.requests("/targets/")) != 0 {
		t.Fatalf("%+v, requests %v", res, srv.requests("/targets/"))
	}
}

// TestMinVersionFloor: the application's minimum refuses older versions
// on a fresh device, before anything is downloaded.
func TestMinVersionFloor(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, smallSize, "1.0.0")
	srv := serveRepo(t, r)
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, MinVersion: "1.1.0"}, fastOpts())
	d.wantFail(client.PolicyRejected, "")
	if got := srv.requests("/targets/"); len(got) != 0 {
		t.Fatalf("targets requested: %v", got)
	}
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0")
}

// TestFreezeRejected: expired metadata is refused, whether the device's
// clock has moved past the timestamp's expiry or the repository serves a
// timestamp that had already expired when it was signed.
func TestFreezeRejected(t *testing.T) {
	t.Parallel()
	t.Run("clock past expiry", func(t *testing.T) {
		r, _, d := onV1(t)
		publish(t, r, smallSize, "1.1.0")
		opts := fastOpts()
		opts.Now = func() time.Time { return time.Now().Add(25 * time.Hour) } // timestamps last a day
		d.reopen(opts)
		d.wantFail(client.MetadataExpired, "1.0.0")
		d.wantNotInstalled("1.1.0")
		// Checking installed files needs authenticity, not freshness.
		if _, err := d.c.Verify(model); err != nil {
			t.Fatalf("verify with expired metadata: %v", err)
		}
	})
	t.Run("expired timestamp served", func(t *testing.T) {
		r, _, d := onV1(t)
		publish(t, r, smallSize, "1.1.0")
		r.SetNow(func() time.Time { return time.Now().Add(-48 * time.Hour) })
		r.Timestamp(t)
		d.wantFail(client.MetadataExpired, "1.0.0")
		d.wantNotInstalled("1.1.0")
	})
	t.Run("short-lived repository", func(t *testing.T) {
		exp := repo.DefaultExpiry
		exp.Timestamp = duration.Duration(time.Hour)
		r := testrepo.NewWithExpiry(t, &exp)
		publish(t, r, smallSize, "1.0.0")
		srv := serveRepo(t, r)
		opts := fastOpts()
		opts.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		d := newDevice(t, r, srv.URL, opts)
		d.wantFail(client.MetadataExpired, "")
		if got := srv.requests("/targets/"); len(got) != 0 {
			t.Fatalf("targets requested: %v", got)
		}
	})
}
