package client_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/contentkeys"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keyserver"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
)

// versionKey is a key store of one content key.
type versionKey struct {
	version string
	key     *modelcrypt.ContentKey
}

func (k versionKey) Get(m, v string) (*modelcrypt.ContentKey, error) {
	if m == model && v == k.version {
		return k.key, nil
	}
	return nil, contentkeys.ErrNotFound
}

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// later moves clock by d and signs the timestamp again, as a repository
// does.
func later(t testing.TB, r *testrepo.Repo, clock *testClock, d time.Duration) {
	clock.add(d)
	r.Timestamp(t)
}

// keyService runs, on 127.0.0.1, a key service for r's versions
// delivered by it, with dev enrolled; it returns its URL.
func keyService(t testing.TB, r *testrepo.Repo, dev *p256Key, keys versionKey, now func() time.Time) string {
	t.Helper()
	devices := filepath.Join(t.TempDir(), "devices")
	if err := os.WriteFile(devices, []byte(dev.recipient(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err := keyserver.New(keyserver.Config{RepoDir: r.Dir, Keys: keys, DevicesFile: devices, KeyLifetime: 24 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	kts := httptest.NewServer(ks)
	t.Cleanup(kts.Close)
	return kts.URL
}

// TestEncryptedAtRestKeyRenewed: a version delivered by the key service
// and kept encrypted at rest stays readable past the released key's
// lifetime: an update run that finds the kept envelope expired (or about
// to expire, or gone) fetches a fresh one (docs/client.md).
func TestEncryptedAtRestKeyRenewed(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	srv := serveRepo(t, r)
	dev := newP256Key(t)
	clock := &testClock{t: time.Now()}
	r.SetNow(clock.now) // the timestamp is signed again as time passes
	_, ck := publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{Delivery: targets.DeliveryKeyServer})
	opts := fastOpts()
	opts.DeviceKey, opts.EncryptedAtRest, opts.KeyServer, opts.Now = dev, true, keyService(t, r, dev, versionKey{"2.0.0", ck}, clock.now), clock.now
	d := newDevice(t, r, srv.URL, opts)
	d.mustUpdate("2.0.0")
	read := func() error {
		m, err := d.c.OpenActive(model)
		if err != nil {
			return err
		}
		rc, err := m.Open("model.bin")
		if err != nil {
			return err
		}
		return rc.Close()
	}
	if err := read(); err != nil {
		t.Fatalf("OpenActive after the install: %v", err)
	}

	// Within the lifetime but less than half of it left: renewed.
	later(t, r, clock, 20*time.Hour)
	if res, err := d.update(client.UpdateRequest{}); err != nil || res.Outcome != client.OutcomeUpToDate {
		t.Fatalf("update 20 h later: %v %+v", err, res)
	}
	later(t, r, clock, 20*time.Hour) // the first envelope has expired
	if err := read(); err != nil {
		t.Fatalf("OpenActive 40 h after the install, with an envelope renewed at 20 h: %v", err)
	}

	// Expired: OpenActive fails until an update renews it.
	later(t, r, clock, 20*time.Hour)
	if err := read(); client.CodeOf(err) != client.DecryptFailed {
		t.Fatalf("OpenActive with an expired envelope: %v", err)
	}
	if _, err := d.update(client.UpdateRequest{}); err != nil {
		t.Fatal(err)
	}
	if err := read(); err != nil {
		t.Fatalf("OpenActive after the renewal: %v", err)
	}

	// Gone: renewed too.
	os.Remove(d.path("keys", model, "2.0.0.age"))
	if _, err := d.update(client.UpdateRequest{}); err != nil {
		t.Fatal(err)
	}
	if err := read(); err != nil {
		t.Fatalf("OpenActive after the lost envelope was renewed: %v", err)
	}
}

// TestEncryptedFromDirectory: an encrypted version published to a
// file:// repository (removable media) installs like one served over
// HTTP: its key envelope is read from the directory, bounded, and a
// device with no envelope there skips the version KEY_UNAVAILABLE.
func TestEncryptedFromDirectory(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	fleet, stranger := newP256Key(t), newP256Key(t)
	files, _ := publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{Recipients: []string{fleet.recipient(t)}})
	opts := fastOpts()
	opts.FleetKey = fleet
	d := newDevice(t, r, "file://"+r.Dir, opts)
	d.mustUpdate("2.0.0")
	d.wantPlainActive("2.0.0", files)

	opts.FleetKey = stranger
	other := newDevice(t, r, "file://"+r.Dir, opts)
	res, err := other.update(client.UpdateRequest{}) // nothing else to install
	if client.CodeOf(err) != client.KeyUnavailable {
		t.Fatalf("update without an envelope: %v", err)
	}
	if sk := skippedEntry(t, res, "2.0.0"); sk.Code != client.KeyUnavailable {
		t.Fatalf("skipped with %s", sk.Code)
	}
}
