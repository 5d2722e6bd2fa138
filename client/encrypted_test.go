package client_test

// Encrypted versions (docs/encryption.md, docs/client.md section
// "Encrypted versions"): a device with the key installs the verified
// plaintext (or, encrypted at rest, the verified ciphertext); a device
// without it, or with a key or payload that does not decrypt, skips the
// version like an incompatible one, keeps its active version, and leaves
// no plaintext behind. The repositories are made by
// testrepo.EncryptVersion as add-target --encrypt publishes them.

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/internal/modelcrypttest"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// encSize is model.bin's size in these tests: several 64 KiB chunks of
// the age STREAM format, so that chunks can be swapped.
const encSize = 5*64<<10 + 1234

// p256Key is a throwaway P-256 key held in memory (a fleet or device key
// as devicekey.Key), made by each test: test-only.
type p256Key struct {
	priv *ecdh.PrivateKey
	// fail, if set, makes ECDH fail as a removed token or a cleared TPM does.
	fail bool
}

func newP256Key(t testing.TB) *p256Key {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &p256Key{priv: k}
}

func (k *p256Key) Public() *ecdh.PublicKey { return k.priv.PublicKey() }
func (k *p256Key) ECDH(remote *ecdh.PublicKey) ([]byte, error) {
	if k.fail {
		return nil, &devicekey.Error{Code: devicekey.CodeUnavailable, Ref: "test:", Err: errors.New("the token was removed")}
	}
	return k.priv.ECDH(remote)
}

// recipient is the key's age recipient ("age1tag1...").
func (k *p256Key) recipient(t testing.TB) string {
	t.Helper()
	r, err := modelcrypt.Recipient(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// publishEncrypted publishes model version v (bundle(seedOf(v), encSize))
// encrypted as o says, with patches from deltaFrom, and returns its
// plaintext files and content key.
func publishEncrypted(t testing.TB, r *testrepo.Repo, v string, deltaFrom []string, files map[string][]byte, o testrepo.EncryptOptions) (map[string][]byte, *modelcrypt.ContentKey) {
	t.Helper()
	if files == nil {
		files = bundle(seedOf(v), encSize)
	}
	r.PublishWithDeltas(t, model, v, files, targets.Compat{}, deltaFrom)
	return files, r.EncryptVersion(t, model, v, o)
}

// wantPlainActive checks that v is active and confirmed, that its
// directory holds exactly the plaintext files, that Verify agrees and
// that OpenActive reads the plaintext.
func (d *device) wantPlainActive(v string, files map[string][]byte) {
	d.t.Helper()
	st := d.status()
	if st.Version != v || st.Trial {
		d.t.Fatalf("active %q (trial %v), want %s confirmed", st.Version, st.Trial, v)
	}
	entries, err := os.ReadDir(d.path("models", model, v))
	if err != nil {
		d.t.Fatal(err)
	}
	if len(entries) != len(files)+1 {
		d.t.Fatalf("installed %s holds %d files, want %d payload files and the manifest", v, len(entries), len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(d.path("models", model, v, name))
		if err != nil || !bytes.Equal(got, want) {
			d.t.Fatalf("installed %s/%s is not the plaintext (%v)", v, name, err)
		}
	}
	if _, err := d.c.Verify(model); err != nil {
		d.t.Fatalf("verify %s: %v", v, err)
	}
	m, err := d.c.OpenActive(model)
	if err != nil {
		d.t.Fatal(err)
	}
	rc, err := m.Open("model.bin")
	if err != nil {
		d.t.Fatal(err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, files["model.bin"]) {
		d.t.Fatalf("OpenActive read of model.bin: %v", err)
	}
}

// windowIndex indexes the 32-byte blocks of plain at multiples of 32: any
// 64-byte window of plain contains one of them whole.
func windowIndex(plain []byte) map[string]bool {
	idx := map[string]bool{}
	for i := 0; i+32 <= len(plain); i += 32 {
		idx[string(plain[i:i+32])] = true
	}
	return idx
}

// containsWindow reports whether data holds any 64-byte window of the
// plaintext idx indexes.
func containsWindow(data []byte, idx map[string]bool) bool {
	for i := 0; i+32 <= len(data); i++ {
		if idx[string(data[i:i+32])] {
			return true
		}
	}
	return false
}

// wantNoPlaintext fails if any file under the device's staging area, or
// in the version directory of v, holds a 64-byte window of plain.
func (d *device) wantNoPlaintext(v string, plain []byte) {
	d.t.Helper()
	idx := windowIndex(plain)
	for _, root := range []string{d.path("staging"), d.path("models", model, v)} {
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil || !fi.Mode().IsRegular() {
				return nil
			}
			data, rerr := os.ReadFile(p)
			if rerr == nil && containsWindow(data, idx) {
				d.t.Errorf("%s holds plaintext of %s", p, v)
			}
			return nil
		})
	}
}

// skipped returns the result's entry for v, failing if there is none.
func skippedEntry(t testing.TB, res *client.Result, v string) client.Skipped {
	t.Helper()
	return resultEntry(t, res.Skipped, func(s client.Skipped) bool { return s.Version == v }, v+" among the skipped versions")
}

// encDevice is a repository serving 1.0.0 (plaintext) and a device with
// fleet key dev (as FleetKey, or DeviceKey with asDevice) running it.
func encDevice(t *testing.T, asDevice bool) (*testrepo.Repo, *server, *device, *p256Key) {
	t.Helper()
	r := newRepo(t)
	srv := serveRepo(t, r)
	key := newP256Key(t)
	publish(t, r, 4096, "1.0.0")
	opts := fastOpts()
	if asDevice {
		opts.DeviceKey = key
	} else {
		opts.FleetKey = key
	}
	d := newDevice(t, r, srv.URL, opts)
	d.mustUpdate("1.0.0")
	return r, srv, d, key
}

// TestEncryptedFleetUpdate: a fleet-delivered encrypted version installs
// as its verified plaintext, then the next one by an encrypted patch;
// staging is left empty, and the published ciphertext holds no window of
// the plaintext.
func TestEncryptedFleetUpdate(t *testing.T) {
	t.Parallel()
	r, srv, d, fleet := encDevice(t, false)

	// 2.0.0 is served from a copy of the repository where it is
	// encrypted, so that the repository itself still holds its plaintext
	// when 3.0.0's patch from it is computed (as add-target --encrypt
	// computes patches between plaintexts).
	enc := testrepo.EncryptOptions{Delivery: targets.DeliveryFleet, Recipients: []string{fleet.recipient(t)}}
	files2 := bundle(seedOf("2.0.0"), encSize)
	r.Publish(t, model, "2.0.0", files2, targets.Compat{})
	r2 := *r
	r2.Dir = snapshotRepo(t, r)
	enc.Key = r2.EncryptVersion(t, model, "2.0.0", enc)
	srv.set(dirHandler(r2.Dir))
	ct, err := os.ReadFile(r2.TargetFile(t, targets.TargetPath(model, "2.0.0", "model.bin")))
	if err != nil {
		t.Fatal(err)
	}
	if containsWindow(ct, windowIndex(files2["model.bin"])) {
		t.Fatal("the published ciphertext holds a 64-byte window of the plaintext")
	}
	res := d.mustUpdate("2.0.0")
	d.wantPlainActive("2.0.0", files2)
	if staged := d.stagedFiles(); len(staged) != 0 {
		t.Fatalf("staging holds %v after the update", staged)
	}
	if res.BytesDownloaded < int64(len(ct)) {
		t.Fatalf("downloaded %d bytes, the ciphertext is %d", res.BytesDownloaded, len(ct))
	}

	// 3.0.0 changes one region of model.bin: a patch from 2.0.0's
	// plaintext, encrypted under 3.0.0's key.
	files3 := map[string][]byte{"model.bin": bytes.Clone(files2["model.bin"]), "labels.txt": labels(3)}
	copy(files3["model.bin"][70000:], payload(33, 3000))
	r.PublishWithDeltas(t, model, "3.0.0", files3, targets.Compat{}, []string{"2.0.0"})
	r.EncryptVersion(t, model, "2.0.0", enc)
	enc.Key = nil
	r.EncryptVersion(t, model, "3.0.0", enc)
	srv.set(dirHandler(r.Dir))
	res = d.mustUpdate("3.0.0")
	d.wantPlainActive("3.0.0", files3)
	if m := fileFetch(t, res, "model.bin").Method; m != client.MethodDelta {
		t.Fatalf("model.bin obtained by %q, want a patch (%+v)", m, res.Files)
	}
	if res.BytesDownloaded >= encSize/2 {
		t.Fatalf("the patched update downloaded %d bytes", res.BytesDownloaded)
	}
	if staged := d.stagedFiles(); len(staged) != 0 {
		t.Fatalf("staging holds %v after the patched update", staged)
	}
}

// TestEncryptedDeviceDelivery: per-device envelopes. The granted device
// installs the version; a device that was not granted skips it
// (KEY_UNAVAILABLE, event key_unavailable), stays on its version,
// downloads nothing of the encrypted version but the request for its
// envelope, schedules no backoff, and takes an older granted version
// when one is newer than its active one.
func TestEncryptedDeviceDelivery(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	srv := serveRepo(t, r)
	granted, other := newP256Key(t), newP256Key(t)
	publish(t, r, 4096, "1.0.0")
	files2, _ := publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{Delivery: targets.DeliveryDevice,
		Recipients: []string{granted.recipient(t), other.recipient(t)}})
	publishEncrypted(t, r, "3.0.0", nil, nil, testrepo.EncryptOptions{Delivery: targets.DeliveryDevice,
		Recipients: []string{granted.recipient(t)}})

	opts := fastOpts()
	opts.DeviceKey = other
	d := newDevice(t, r, srv.URL, opts)
	d.honourBackoff = true
	srv.reset()
	res := d.mustUpdate("2.0.0")
	d.wantPlainActive("2.0.0", files2)
	if sk := skippedEntry(t, res, "3.0.0"); sk.Code != client.KeyUnavailable {
		t.Fatalf("3.0.0 skipped with %s, want KEY_UNAVAILABLE", sk.Code)
	}
	for _, req := range srv.requests("/targets/models/" + model + "/3.0.0/") {
		if !strings.Contains(req.Path, "/keys/") {
			t.Errorf("a device without the key of 3.0.0 requested %s", req.Path)
		}
	}
	if !contains(eventNames(d.events()), client.EventKeyUnavailable) {
		t.Fatalf("no key_unavailable event: %v", eventNames(d.events()))
	}

	// Up to date on the next run: the skip is no failure, no backoff.
	res, err := d.update(client.UpdateRequest{})
	if err != nil || res.Outcome != client.OutcomeUpToDate || res.Version != "2.0.0" || res.NotBefore != "" {
		t.Fatalf("next run: %v %+v", err, res)
	}
	if st := d.status(); st.Schedule != nil {
		t.Fatalf("a skipped version scheduled a backoff: %+v", st.Schedule)
	}

	// The granted device goes to 3.0.0.
	opts.DeviceKey = granted
	g := newDevice(t, r, srv.URL, opts)
	g.mustUpdate("3.0.0")
}

// TestEncryptedKeyAttacks: every way the key may be wrong is refused
// with DECRYPT_FAILED (or KEY_UNAVAILABLE when there is none), the
// version skipped, the active version untouched, and nothing downloaded
// of its payload.
func TestEncryptedKeyAttacks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// setup publishes 2.0.0 and its envelopes for dev (the device's
		// key) and returns what the device must report.
		setup func(t *testing.T, r *testrepo.Repo, dev, other *p256Key) client.Code
	}{
		{"wrong fleet key", func(t *testing.T, r *testrepo.Repo, dev, other *p256Key) client.Code {
			publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{Recipients: []string{other.recipient(t)}})
			return client.KeyUnavailable
		}},
		{"another device's envelope under this device's name", func(t *testing.T, r *testrepo.Repo, dev, other *p256Key) client.Code {
			_, ck := publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{})
			env := sealFor(t, other, modelcrypt.Grant{ModelID: model, Version: "2.0.0", ContentKey: ck.String()})
			r.PutEnvelope(t, model, "2.0.0", envelopeName(t, dev), env)
			return client.DecryptFailed
		}},
		{"replayed envelope of another version", envelopeFor(func(t *testing.T, _ *modelcrypt.ContentKey) modelcrypt.Grant {
			// 1.5.0's envelope for this device, as it is, served for 2.0.0.
			return modelcrypt.Grant{ModelID: model, Version: "1.5.0", ContentKey: modelcrypttest.NewContentKey(t).String()}
		})},
		{"an envelope bound to another version holding this version's key", envelopeFor(func(t *testing.T, ck *modelcrypt.ContentKey) modelcrypt.Grant {
			return modelcrypt.Grant{ModelID: model, Version: "2.0.1", ContentKey: ck.String()}
		})},
		{"an envelope naming the version with another version's key", envelopeFor(func(t *testing.T, _ *modelcrypt.ContentKey) modelcrypt.Grant {
			return modelcrypt.Grant{ModelID: model, Version: "2.0.0", ContentKey: modelcrypttest.NewContentKey(t).String()}
		})},
		{"an envelope that expired", envelopeFor(func(t *testing.T, ck *modelcrypt.ContentKey) modelcrypt.Grant {
			return modelcrypt.Grant{ModelID: model, Version: "2.0.0", ContentKey: ck.String(), NotAfter: "2000-01-01T00:00:00Z"}
		})},
		{"garbage envelope", func(t *testing.T, r *testrepo.Repo, dev, other *p256Key) client.Code {
			publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{})
			r.PutEnvelope(t, model, "2.0.0", envelopeName(t, dev), bytes.Repeat([]byte("x"), 300))
			return client.DecryptFailed
		}},
		{"an envelope over the size limit", func(t *testing.T, r *testrepo.Repo, dev, other *p256Key) client.Code {
			publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{})
			r.PutEnvelope(t, model, "2.0.0", envelopeName(t, dev), make([]byte, modelcrypt.MaxEnvelopeSize+1))
			return oversized
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, srv, d, dev := encDevice(t, false)
			want := tc.setup(t, r, dev, newP256Key(t))
			srv.reset()
			res, err := d.update(client.UpdateRequest{})
			if err != nil || res.Version != "1.0.0" {
				t.Fatalf("update: %v %+v", err, res)
			}
			sk := skippedEntry(t, res, "2.0.0")
			if want == oversized && (sk.Code == client.KeyUnavailable || sk.Code == client.DecryptFailed) {
				want = sk.Code
			}
			if sk.Code != want {
				t.Fatalf("2.0.0 skipped with %s (%s), want %s", sk.Code, sk.Reason, want)
			}
			d.wantActive("1.0.0")
			for _, req := range srv.requests("/targets/models/" + model + "/2.0.0/") {
				if !strings.Contains(req.Path, "/keys/") {
					t.Errorf("requested %s without the key", req.Path)
				}
			}
			ev := map[client.Code]string{client.KeyUnavailable: client.EventKeyUnavailable, client.DecryptFailed: client.EventDecryptFailed}[want]
			if !contains(eventNames(d.events()), ev) {
				t.Fatalf("no %s event: %v", ev, eventNames(d.events()))
			}
		})
	}
}

// envelopeFor is a TestEncryptedKeyAttacks setup: it publishes 2.0.0
// and writes the device's envelope holding the grant that grant makes of
// the version's content key, a grant the device must refuse
// (DECRYPT_FAILED).
func envelopeFor(grant func(t *testing.T, ck *modelcrypt.ContentKey) modelcrypt.Grant) func(*testing.T, *testrepo.Repo, *p256Key, *p256Key) client.Code {
	return func(t *testing.T, r *testrepo.Repo, dev, _ *p256Key) client.Code {
		_, ck := publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{})
		r.WriteEnvelope(t, model, "2.0.0", dev.recipient(t), grant(t, ck))
		return client.DecryptFailed
	}
}

// oversized is what a device reports for an envelope over
// modelcrypt.MaxEnvelopeSize: the fetcher may refuse the answer
// (KEY_UNAVAILABLE, client/internal/keyaccess) or hand it to
// modelcrypt.OpenEnvelope, which refuses it (DECRYPT_FAILED); either way
// the version is skipped.
const oversized client.Code = "KEY_UNAVAILABLE or DECRYPT_FAILED"

// sealFor seals g for k's recipient.
func sealFor(t testing.TB, k *p256Key, g modelcrypt.Grant) []byte {
	t.Helper()
	rc, err := modelcrypt.ParseRecipient(k.recipient(t))
	if err != nil {
		t.Fatal(err)
	}
	env, err := modelcrypt.SealEnvelope(rc, g)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// envelopeName is the published name of k's envelopes.
func envelopeName(t testing.TB, k *p256Key) string {
	t.Helper()
	rc, err := modelcrypt.ParseRecipient(k.recipient(t))
	if err != nil {
		t.Fatal(err)
	}
	return modelcrypt.EnvelopeName(rc)
}

// ageBody returns the offset of the STREAM payload of an age file: after
// the header's closing "--- " line and the 16-byte nonce.
func ageBody(t testing.TB, ct []byte) int {
	t.Helper()
	i := bytes.Index(ct, []byte("\n--- "))
	if i < 0 {
		t.Fatal("no age header end")
	}
	j := bytes.IndexByte(ct[i+1:], '\n')
	return i + 1 + j + 1 + 16
}

// TestEncryptedPayloadTampering: a ciphertext damaged on its way is
// refused by TUF before any decryption (HASH_MISMATCH); one signed as it
// is by a compromised publisher (a flipped byte, a truncated file, two
// chunks swapped) is refused by the decryption (DECRYPT_FAILED): the
// version is skipped, the active version untouched, and no plaintext is
// left in staging or in a version directory.
func TestEncryptedPayloadTampering(t *testing.T) {
	t.Parallel()
	const chunk = 64<<10 + 16 // a STREAM chunk with its tag
	for _, tc := range []struct {
		name   string
		tamper func(t testing.TB, ct []byte) []byte
	}{
		{"flipped byte", func(t testing.TB, ct []byte) []byte {
			ct = bytes.Clone(ct)
			ct[ageBody(t, ct)+chunk+100] ^= 1
			return ct
		}},
		{"truncated", func(t testing.TB, ct []byte) []byte {
			return bytes.Clone(ct[:ageBody(t, ct)+3*chunk])
		}},
		{"two chunks swapped", func(t testing.TB, ct []byte) []byte {
			ct = bytes.Clone(ct)
			b := ageBody(t, ct)
			one, two := bytes.Clone(ct[b+chunk:b+2*chunk]), bytes.Clone(ct[b+2*chunk:b+3*chunk])
			copy(ct[b+chunk:], two)
			copy(ct[b+2*chunk:], one)
			return ct
		}},
		{"another version's ciphertext", func(t testing.TB, ct []byte) []byte {
			other, _ := modelcrypt.NewContentKey()
			var buf bytes.Buffer
			modelcrypt.EncryptStream(&buf, bytes.NewReader(payload(1, encSize)), other.Recipient())
			return buf.Bytes()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _, d, fleet := encDevice(t, false)
			files, _ := publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{Recipients: []string{fleet.recipient(t)},
				Tamper: func(target string, ct []byte) []byte {
					if strings.HasSuffix(target, "/model.bin") {
						return tc.tamper(t, ct)
					}
					return ct
				}})
			res, err := d.update(client.UpdateRequest{})
			if client.CodeOf(err) != client.DecryptFailed || res.Version != "1.0.0" {
				t.Fatalf("update: %v %+v", err, res)
			}
			if sk := skippedEntry(t, res, "2.0.0"); sk.Code != client.DecryptFailed {
				t.Fatalf("skipped with %s", sk.Code)
			}
			d.wantActive("1.0.0")
			d.wantNoPlaintext("2.0.0", files["model.bin"])
			// Nor the other files, decrypted before model.bin failed
			// (labels.txt is too short for a window check): the skipped
			// version's staging is gone.
			if _, err := os.Lstat(d.path("staging", model, "2.0.0")); !os.IsNotExist(err) {
				t.Fatalf("the skipped 2.0.0 is still staged (%v): %v", err, stagedFiles(t, d.path("staging", model, "2.0.0")))
			}
			if !contains(eventNames(d.events()), client.EventDecryptFailed) {
				t.Fatalf("no decrypt_failed event: %v", eventNames(d.events()))
			}
			// Not fetched again and again: after MaxVerifyFailures the
			// version waits (DEFERRED_VERIFY_FAILURES).
			for i := 1; i < client.DefaultMaxVerifyFailures; i++ {
				d.update(client.UpdateRequest{})
			}
			if _, err := d.update(client.UpdateRequest{}); client.CodeOf(err) != client.DeferredVerifyFailures {
				t.Fatalf("after %d failures: %v", client.DefaultMaxVerifyFailures, err)
			}
			d.wantActive("1.0.0")
		})
	}

	// A hostile server flipping a byte of a genuine ciphertext: TUF's hash
	// refuses it before it is decrypted.
	t.Run("flipped in transit", func(t *testing.T) {
		t.Parallel()
		r, _, d, fleet := encDevice(t, false)
		files, _ := publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{Recipients: []string{fleet.recipient(t)}})
		p := r.TargetFile(t, targets.TargetPath(model, "2.0.0", "model.bin"))
		ct, _ := os.ReadFile(p)
		ct[len(ct)/2] ^= 1
		os.WriteFile(p, ct, 0o644)
		d.wantFail(client.HashMismatch, "1.0.0")
		d.wantNoPlaintext("2.0.0", files["model.bin"])
	})
}

// TestEncryptedDeviceKeyFault: a device key that fails (a removed token,
// a cleared TPM) stops the run with DEVICE_KEY_UNAVAILABLE: nothing is
// skipped or decrypted otherwise, the active version stays. With
// delivery keyserver the fault comes while proving possession to the
// service, and is not taken for the service's refusal.
func TestEncryptedDeviceKeyFault(t *testing.T) {
	t.Parallel()
	for _, delivery := range []string{targets.DeliveryDevice, targets.DeliveryKeyServer} {
		t.Run(delivery, func(t *testing.T) {
			t.Parallel()
			r, _, d, key := encDevice(t, true)
			o := testrepo.EncryptOptions{Delivery: delivery, Recipients: []string{key.recipient(t)}}
			if delivery == targets.DeliveryKeyServer {
				o.Recipients = nil
			}
			_, ck := publishEncrypted(t, r, "2.0.0", nil, nil, o)
			if delivery == targets.DeliveryKeyServer {
				opts := fastOpts()
				opts.DeviceKey, opts.KeyServer = key, keyService(t, r, key, versionKey{"2.0.0", ck}, time.Now)
				d.reopen(opts)
			}
			key.fail = true
			res := d.wantFail(client.DeviceKeyUnavailable, "1.0.0")
			if len(res.Skipped) != 0 {
				t.Fatalf("skipped %+v on a key fault", res.Skipped)
			}
			key.fail = false
			d.mustUpdate("2.0.0")
		})
	}
}

// TestEncryptedAtRest: with Options.EncryptedAtRest the installed files
// are the signed ciphertext, checked by a full decryption first, and the
// envelope is kept for OpenActive; Verify checks the ciphertext.
func TestEncryptedAtRest(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	srv := serveRepo(t, r)
	fleet := newP256Key(t)
	opts := fastOpts()
	opts.FleetKey, opts.EncryptedAtRest = fleet, true
	files, ck := publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{Recipients: []string{fleet.recipient(t)}})
	d := newDevice(t, r, srv.URL, opts)
	d.mustUpdate("2.0.0")
	d.wantActive("2.0.0") // the published (ciphertext) files, verified
	d.wantNoPlaintext("2.0.0", files["model.bin"])
	env, err := os.ReadFile(d.path("keys", model, "2.0.0.age"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := modelcrypt.OpenEnvelope(env, fleet, model, "2.0.0", ck.Recipient(), time.Now())
	if err != nil || got.String() != ck.String() {
		t.Fatalf("stored envelope: %v", err)
	}
	if fi, err := os.Stat(d.path("keys", model, "2.0.0.age")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stored envelope mode: %v %v", fi.Mode(), err)
	}
	// Retention removes a version's envelope with the version.
	for _, v := range []string{"3.0.0", "4.0.0"} {
		publishEncrypted(t, r, v, nil, nil, testrepo.EncryptOptions{Recipients: []string{fleet.recipient(t)}})
		d.mustUpdate(v)
	}
	if _, err := os.Stat(d.path("keys", model, "2.0.0.age")); !os.IsNotExist(err) {
		t.Fatalf("2.0.0 is no longer installed, its envelope is still kept: %v", err)
	}
	for _, v := range []string{"3.0.0", "4.0.0"} {
		if _, err := os.Stat(d.path("keys", model, v+".age")); err != nil {
			t.Fatalf("installed %s has no envelope: %v", v, err)
		}
	}
}

// TestEncryptedResume: the ciphertext download of an encrypted version
// resumes like any other, within a run (connections dropped part-way,
// Range requests) and across runs (a run that gives up leaves the part
// staged; the next run resumes it, and decrypts it from its first byte),
// and a server that ignores Range makes the part rewritten from the start
// under the decryption that follows it: every time the verified plaintext
// is installed, and staging is left empty.
func TestEncryptedResume(t *testing.T) {
	t.Parallel()
	const k = 100 << 10
	for _, tc := range []struct {
		name string
		// fault serves the n-th request for model.bin's ciphertext
		// (returns false to serve it genuinely).
		fault   func(dir string, n int, w http.ResponseWriter, req *http.Request) bool
		retries int
	}{
		{"dropped connections, resumed in the run", func(dir string, n int, w http.ResponseWriter, req *http.Request) bool {
			if n < 3 {
				cut(dirHandler(dir), k, w, req)
				return true
			}
			return false
		}, 0},
		{"a run that gives up, resumed by the next", func(dir string, n int, w http.ResponseWriter, req *http.Request) bool {
			if n == 0 {
				cut(dirHandler(dir), 2*k, w, req)
				return true
			}
			return false
		}, -1},
		{"a server that ignores Range", func(dir string, n int, w http.ResponseWriter, req *http.Request) bool {
			if n == 0 {
				cut(dirHandler(dir), 2*k, w, req)
				return true
			}
			req.Header.Del("Range")
			return false
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, srv, d, fleet := encDevice(t, false)
			files, _ := publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{Recipients: []string{fleet.recipient(t)}})
			srv.set(faultHandler(dirHandler(r.Dir), ".model.bin", func(n int, w http.ResponseWriter, req *http.Request) bool {
				if !strings.Contains(req.URL.Path, "/2.0.0/") {
					return false
				}
				return tc.fault(r.Dir, n, w, req)
			}))
			opts := fastOpts()
			opts.FleetKey, opts.Retries = fleet, tc.retries
			d.reopen(opts)
			if tc.retries < 0 {
				d.wantFail(client.Network, "1.0.0")
				d.wantNoPlaintext("2.0.0", files["model.bin"])
				if staged := d.stagedFiles(); staged[filepath.Join("2.0.0", ".ciphertext", "model.bin.part")] != 2*k {
					t.Fatalf("staged after the failed run: %v", staged)
				}
			}
			res := d.mustUpdate("2.0.0")
			d.wantPlainActive("2.0.0", files)
			if staged := d.stagedFiles(); len(staged) != 0 {
				t.Fatalf("staging holds %v", staged)
			}
			if tc.retries < 0 && res.BytesResumed < 2*k {
				t.Fatalf("resumed %d bytes, want at least the %d staged of model.bin", res.BytesResumed, 2*k)
			}
		})
	}
}

// TestEncryptedMetadataCrossChecks: the signed metadata of a version must
// be consistently encrypted or not (installed.WireFiles,
// installed.CheckManifest): a payload of an encrypted version without
// its signed plaintext, a payload of a plaintext version with one, and a
// manifest.json whose encrypted field is not the signed one are
// MANIFEST_INVALID, nothing is installed, and the active version stays.
func TestEncryptedMetadataCrossChecks(t *testing.T) {
	t.Parallel()
	payloadOf := func(v string) string { return targets.TargetPath(model, v, "model.bin") }
	editCustom := func(t *testing.T, r *testrepo.Repo, path string, edit func(*targets.Custom)) {
		t.Helper()
		err := testrepo.ForgeTargetsDir(r.Dir, func(tg map[string]*metadata.TargetFiles) error {
			c, err := targets.ParseCustom(path, tg[path].Custom)
			if err != nil {
				return err
			}
			edit(c)
			tg[path].Custom, err = c.Marshal()
			return err
		}, r.Signers(t))
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, r *testrepo.Repo, key *p256Key)
	}{
		{"an encrypted version's payload without plaintext", func(t *testing.T, r *testrepo.Repo, key *p256Key) {
			publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{Recipients: []string{key.recipient(t)}})
			editCustom(t, r, payloadOf("2.0.0"), func(c *targets.Custom) { c.Plaintext, c.Critical = nil, nil })
		}},
		{"a plaintext version's payload with plaintext", func(t *testing.T, r *testrepo.Repo, key *p256Key) {
			publish(t, r, encSize, "2.0.0")
			editCustom(t, r, payloadOf("2.0.0"), func(c *targets.Custom) {
				c.Plaintext = &targets.Plaintext{Length: 1, SHA256: strings.Repeat("ab", 32)}
				c.Critical = []string{targets.FieldPlaintext}
			})
		}},
		{"a manifest.json whose encrypted field is not the signed one", func(t *testing.T, r *testrepo.Repo, key *p256Key) {
			publishEncrypted(t, r, "2.0.0", nil, nil, testrepo.EncryptOptions{Recipients: []string{key.recipient(t)}})
			mp := targets.ManifestPath(model, "2.0.0")
			old := r.TargetFile(t, mp)
			data, err := os.ReadFile(old)
			if err != nil {
				t.Fatal(err)
			}
			data = bytes.Replace(data, []byte(`"delivery":"fleet"`), []byte(`"delivery":"device"`), 1)
			sum := sha256.Sum256(data)
			os.Remove(old)
			if err := os.WriteFile(filepath.Join(filepath.Dir(old), hex.EncodeToString(sum[:])+"."+targets.ManifestName), data, 0o644); err != nil {
				t.Fatal(err)
			}
			err = testrepo.ForgeTargetsDir(r.Dir, func(tg map[string]*metadata.TargetFiles) error {
				tg[mp].Length, tg[mp].Hashes = int64(len(data)), metadata.Hashes{"sha256": sum[:]}
				return nil
			}, r.Signers(t))
			if err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _, d, key := encDevice(t, false)
			tc.setup(t, r, key)
			d.wantFail(client.ManifestInvalid, "1.0.0")
			if _, err := os.Stat(d.path("models", model, "2.0.0")); !os.IsNotExist(err) {
				t.Fatalf("2.0.0 was installed: %v", err)
			}
		})
	}
}

// stagedFiles lists the regular files under dir.
func stagedFiles(t testing.TB, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}
