package repo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/contentkeys"
	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/modelcrypttest"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/release"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// contentStore returns a function opening the content key store in dir
// with passphrase, as AddOptions.ContentKeys, and counts its calls.
func contentStore(dir, passphrase string, calls *int) func() (release.KeyStore, error) {
	return func() (release.KeyStore, error) {
		if calls != nil {
			*calls++
		}
		return contentkeys.Open(dir, passphrase)
	}
}

// storedKey reads the content key of det at version from the store.
func storedKey(t *testing.T, dir, passphrase, version string) *modelcrypt.ContentKey {
	t.Helper()
	s, err := contentkeys.Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.Get("det", version)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// customOf parses the signed custom metadata of a target.
func customOf(t *testing.T, st *state, targetPath string) (*metadata.TargetFiles, *targets.Custom) {
	t.Helper()
	tf := st.targets.Signed.Targets[targetPath]
	if tf == nil {
		t.Fatalf("no target %s", targetPath)
	}
	c, err := targets.ParseCustom(targetPath, tf.Custom)
	if err != nil {
		t.Fatal(err)
	}
	return tf, c
}

// decryptTo decrypts a stored target with key, checked against its
// signed plaintext.
func decryptTo(t *testing.T, fs afero.Fs, dir string, st *state, targetPath string, key *modelcrypt.ContentKey) []byte {
	t.Helper()
	_, c := customOf(t, st, targetPath)
	if c.Plaintext == nil {
		t.Fatalf("%s has no plaintext field", targetPath)
	}
	var out bytes.Buffer
	ct := readAll(t, fs, findTarget(t, fs, dir, targetPath))
	if err := modelcrypt.DecryptVerified(&out, bytes.NewReader(ct), key, c.Plaintext.Length, c.Plaintext.SHA256); err != nil {
		t.Fatalf("%s: %v", targetPath, err)
	}
	return out.Bytes()
}

// requireNoWindow fails if any 64-byte window of plain occurs in data.
func requireNoWindow(t *testing.T, name string, plain, data []byte) {
	t.Helper()
	const w = 64
	windows := make(map[string]struct{}, len(plain))
	for i := 0; i+w <= len(plain); i++ {
		windows[string(plain[i:i+w])] = struct{}{}
	}
	for i := 0; i+w <= len(data); i++ {
		if _, ok := windows[string(data[i:i+w])]; ok {
			t.Fatalf("%s holds the plaintext's 64 bytes at offset %d", name, i)
		}
	}
}

// encryptRepo is a clone of the published fixture (det 1.0.0 and 2.0.0)
// with an empty content key store in keyDir, and /bundle-3 (det 3.0.0,
// manifest3, model.onnx w3) written.
func encryptRepo(t *testing.T) (f *fixture, fs afero.Fs, dir string, r *Repository, keyDir string) {
	t.Helper()
	f = getFixture(t)
	fs, dir = clone(t, publishedTree)
	r = openAt(t, fs, dir, t0)
	writeBundle(t, fs, "/bundle-3", manifest3, map[string][]byte{"model.onnx": w3})
	return f, fs, dir, r, t.TempDir()
}

// encrypted is AddOptions publishing encrypted for delivery, with the
// content key store in keyDir opened with passphrase.
func encrypted(delivery, keyDir, passphrase string) AddOptions {
	return AddOptions{Encrypt: &EncryptOptions{Delivery: delivery}, ContentKeys: contentStore(keyDir, passphrase, nil)}
}

const manifest3 = `{"model_id":"det","version":"3.0.0","variant":"lite","platforms":["linux/arm64"],"min_app_version":"2.1.0"}`

func TestAddTargetEncrypted(t *testing.T) {
	t.Parallel()
	f, fs, dir, r, keyDir := encryptRepo(t)
	labels := bytes.Repeat([]byte("cat\ndog\n"), 100)
	writeBundle(t, fs, "/bundle-3", manifest3, map[string][]byte{"model.onnx": w3, "labels.txt": labels})
	calls := 0
	res, err := r.AddTarget("/bundle-3", f.kr, AddOptions{
		Encrypt: &EncryptOptions{Delivery: targets.DeliveryDevice}, ContentKeys: contentStore(keyDir, "content pass", &calls)})
	if err != nil {
		t.Fatal(err)
	}
	key := storedKey(t, keyDir, "content pass", "3.0.0")
	want := &targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: key.Recipient(), Delivery: targets.DeliveryDevice}
	if !reflect.DeepEqual(res.Encrypted, want) || calls != 1 || len(res.Reused) != 0 || res.Envelopes != 0 {
		t.Fatalf("result %+v (store opened %d times)", res, calls)
	}
	st := current(t, fs, dir)
	for name, plain := range map[string][]byte{"model.onnx": w3, "labels.txt": labels} {
		p := targets.TargetPath("det", "3.0.0", name)
		tf, c := customOf(t, st, p)
		if !reflect.DeepEqual(c.Critical, []string{targets.FieldPlaintext}) || c.Plaintext.Length != int64(len(plain)) || c.Plaintext.SHA256 != sha(plain) {
			t.Errorf("%s custom %+v", p, c)
		}
		ct := readAll(t, fs, findTarget(t, fs, dir, p))
		if int64(len(ct)) != tf.Length || sha(ct) == sha(plain) {
			t.Errorf("%s: target is not the ciphertext", p)
		}
		if got := decryptTo(t, fs, dir, st, p, key); !bytes.Equal(got, plain) {
			t.Errorf("%s does not decrypt to the bundle file", p)
		}
		requireNoWindow(t, p, plain, ct)
	}
	// The manifest stays plaintext, with plaintext hashes and sizes, the
	// encrypted field, and the compatibility fields.
	mp := targets.ManifestPath("det", "3.0.0")
	m, err := targets.ParsePublishedManifest(readAll(t, fs, findTarget(t, fs, dir, mp)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Encrypted, want) || !reflect.DeepEqual(m.Critical, []string{targets.FieldEncrypted}) ||
		m.Variant != "lite" || m.MinAppVersion != "2.1.0" || m.File("model.onnx").SHA256 != sha(w3) || *m.File("labels.txt").Size != int64(len(labels)) {
		t.Errorf("manifest %+v", m)
	}
	_, mc := customOf(t, st, mp)
	if !reflect.DeepEqual(mc.Encrypted, want) || !reflect.DeepEqual(mc.Critical, []string{targets.FieldEncrypted}) || mc.Variant != "lite" {
		t.Errorf("manifest custom %+v", mc)
	}
	// No plaintext is left in the scratch directory, no envelope published.
	if names, _ := afero.ReadDir(fs, filepath.Join(dir, "tmp")); len(names) != 0 {
		t.Errorf("tmp/ holds %d files", len(names))
	}
	if _, err := fs.Stat(filepath.Join(dir, TargetsDir, filepath.FromSlash(targets.EnvelopeDir("det", "3.0.0")))); err == nil {
		t.Error("an envelope directory for delivery device before any grant")
	}
	requireVerifies(t, fs, dir, t0)
}

func TestAddTargetEncryptedFleet(t *testing.T) {
	t.Parallel()
	f, fs, dir, r, keyDir := encryptRepo(t)
	fleet, other := modelcrypttest.NewDeviceKey(t), modelcrypttest.NewDeviceKey(t)
	fleetRcpt := fleet.Parsed
	res, err := r.AddTarget("/bundle-3", f.kr, AddOptions{
		Encrypt:     &EncryptOptions{Delivery: targets.DeliveryFleet, FleetRecipient: fleetRcpt},
		ContentKeys: contentStore(keyDir, "pw", nil)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Envelopes != 1 || res.Encrypted.Delivery != targets.DeliveryFleet {
		t.Fatalf("result %+v", res)
	}
	env := readAll(t, fs, filepath.Join(dir, TargetsDir, filepath.FromSlash(targets.EnvelopeDir("det", "3.0.0")), modelcrypt.EnvelopeName(fleetRcpt)))
	ck, err := modelcrypt.OpenEnvelope(env, fleet, "det", "3.0.0", res.Encrypted.Recipient, t0)
	if err != nil {
		t.Fatal(err)
	}
	st := current(t, fs, dir)
	if got := decryptTo(t, fs, dir, st, targets.TargetPath("det", "3.0.0", "model.onnx"), ck); !bytes.Equal(got, w3) {
		t.Error("the fleet key's content key does not decrypt the payload")
	}
	if _, err := modelcrypt.OpenEnvelope(env, other, "det", "3.0.0", res.Encrypted.Recipient, t0); err == nil {
		t.Error("another key opened the fleet envelope")
	}
	requireVerifies(t, fs, dir, t0)
}

func TestAddTargetEncryptedKeyServer(t *testing.T) {
	t.Parallel()
	f, fs, dir, r, keyDir := encryptRepo(t)
	res, err := r.AddTarget("/bundle-3", f.kr, encrypted(targets.DeliveryKeyServer, keyDir, "pw"))
	if err != nil || res.Envelopes != 0 || res.Encrypted.Delivery != targets.DeliveryKeyServer {
		t.Fatalf("%+v, %v", res, err)
	}
	if _, err := fs.Stat(filepath.Join(dir, TargetsDir, filepath.FromSlash(targets.EnvelopeDir("det", "3.0.0")))); !os.IsNotExist(err) {
		t.Errorf("envelope directory of a keyserver version: %v", err)
	}
	requireVerifies(t, fs, dir, t0)
}

func TestAddTargetEncryptRefusals(t *testing.T) {
	t.Parallel()
	f, fs, dir, r, keyDir := encryptRepo(t)
	rcpt := modelcrypttest.NewDeviceKey(t).Parsed
	before := fileSnapshot(t, fs, dir)
	for _, c := range []struct {
		name string
		opts AddOptions
		want string
	}{
		{"no delivery", AddOptions{Encrypt: &EncryptOptions{}, ContentKeys: contentStore(keyDir, "pw", nil)}, "encryption needs a delivery: fleet, device or keyserver"},
		{"unknown delivery", AddOptions{Encrypt: &EncryptOptions{Delivery: "cdn"}, ContentKeys: contentStore(keyDir, "pw", nil)}, `unknown delivery "cdn"`},
		{"fleet without recipient", AddOptions{Encrypt: &EncryptOptions{Delivery: "fleet"}, ContentKeys: contentStore(keyDir, "pw", nil)}, "needs the fleet key's recipient"},
		{"recipient without fleet", AddOptions{Encrypt: &EncryptOptions{Delivery: "device", FleetRecipient: rcpt}, ContentKeys: contentStore(keyDir, "pw", nil)}, "is for delivery fleet"},
		{"no store", AddOptions{Encrypt: &EncryptOptions{Delivery: "device"}}, "no content key store"},
		{"empty passphrase", AddOptions{Encrypt: &EncryptOptions{Delivery: "device"}, ContentKeys: contentStore(keyDir, "", nil)}, "empty passphrase"},
	} {
		if _, err := r.AddTarget("/bundle-3", f.kr, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(d) != 0 {
		t.Errorf("refused publications changed %v", d)
	}
}

func TestAddTargetEncryptedDeltas(t *testing.T) {
	t.Parallel()
	f, fs, dir, r, keyDir := encryptRepo(t)
	ks := contentStore(keyDir, "pw", nil)
	w5 := finetune(w4, 5)
	labels := []byte("cat\ndog\n")
	// 3.0.0 plaintext, 4.0.0 encrypted with a patch from it, 5.0.0
	// encrypted with a patch from the encrypted 4.0.0. (6.0.0 plaintext
	// with a patch from the encrypted 5.0.0 is refused below.)
	plains := map[string][]byte{"3.0.0": w3, "4.0.0": w4, "5.0.0": w5}
	for _, step := range []struct {
		version, base string
		encrypt       bool
	}{{"3.0.0", "", false}, {"4.0.0", "3.0.0", true}, {"5.0.0", "4.0.0", true}} {
		bundle := "/bundle-" + step.version
		writeBundle(t, fs, bundle, `{"model_id":"det","version":"`+step.version+`"}`, map[string][]byte{"model.onnx": plains[step.version], "labels.txt": labels})
		opts := AddOptions{ContentKeys: ks}
		if step.base != "" {
			opts.DeltaFrom = []string{step.base}
		}
		if step.encrypt {
			opts.Encrypt = &EncryptOptions{Delivery: targets.DeliveryDevice}
		}
		res, err := r.AddTarget(bundle, f.kr, opts)
		if err != nil {
			t.Fatalf("%s: %v", step.version, err)
		}
		if step.base == "" {
			continue
		}
		d := deltaByKey(res.Deltas)["model.onnx@"+step.base]
		if !d.Published {
			t.Fatalf("%s: patch from %s not published: %+v", step.version, step.base, d)
		}
		st := current(t, fs, dir)
		pp := targets.DeltaPath("det", step.version, step.base, "model.onnx")
		tf, c := customOf(t, st, pp)
		if tf.Length != d.Length {
			t.Errorf("%s: result length %d, target %d", pp, d.Length, tf.Length)
		}
		var patch []byte
		if step.encrypt {
			if !reflect.DeepEqual(c.Critical, []string{targets.FieldPlaintext}) {
				t.Errorf("%s custom %+v", pp, c)
			}
			patch = decryptTo(t, fs, dir, st, pp, storedKey(t, keyDir, "pw", step.version))
			requireNoWindow(t, pp, patch, readAll(t, fs, findTarget(t, fs, dir, pp)))
		} else {
			if c.Plaintext != nil {
				t.Errorf("%s: a plaintext version's patch has a plaintext field", pp)
			}
			patch = readAll(t, fs, findTarget(t, fs, dir, pp))
		}
		// The patch applies to the base's plaintext and rebuilds the new
		// plaintext.
		base := plains[step.base]
		var out bytes.Buffer
		if _, err := delta.Apply(bytes.NewReader(base), int64(len(base)), bytes.NewReader(patch), int64(len(patch)), &out, delta.Limits{VerifyBase: true}); err != nil {
			t.Fatalf("%s: %v", pp, err)
		}
		if !bytes.Equal(out.Bytes(), plains[step.version]) {
			t.Errorf("%s rebuilds other bytes", pp)
		}
		if g := deltaByKey(res.Deltas)["labels.txt@"+step.base]; g.Published {
			t.Errorf("labels.txt patch published: %+v", g)
		}
	}
	// A plaintext patch from an encrypted base would reveal the base (its
	// XOR and SUB regions are new^old and new-old, and the new plaintext
	// is public): refused, nothing changed.
	w6 := finetune(w5, 6)
	writeBundle(t, fs, "/bundle-6.0.0", `{"model_id":"det","version":"6.0.0"}`, map[string][]byte{"model.onnx": w6, "labels.txt": labels})
	before := current(t, fs, dir)
	_, err := r.AddTarget("/bundle-6.0.0", f.kr, AddOptions{ContentKeys: ks, DeltaFrom: []string{"5.0.0"}})
	if !errors.Is(err, ErrDeltaBase) || !strings.Contains(err.Error(), "det 5.0.0 is encrypted and 6.0.0 is not") {
		t.Fatalf("plaintext 6.0.0 with a patch from encrypted 5.0.0: %v", err)
	}
	if after := current(t, fs, dir); after.timestamp.Signed.Version != before.timestamp.Signed.Version {
		t.Error("the refused publication changed the metadata")
	}
	if ok, _ := afero.DirExists(fs, filepath.Join(dir, "targets", "models", "det", "6.0.0")); ok {
		t.Error("the refused publication left targets/models/det/6.0.0")
	}
	if names, _ := afero.ReadDir(fs, filepath.Join(dir, "tmp")); len(names) != 0 {
		t.Errorf("tmp/ holds %d files", len(names))
	}
	requireVerifies(t, fs, dir, t0)
}

func TestAddTargetEncryptedWrongPassphrase(t *testing.T) {
	t.Parallel()
	f, fs, dir, r, keyDir := encryptRepo(t)
	if _, err := r.AddTarget("/bundle-3", f.kr, encrypted("device", keyDir, "right")); err != nil {
		t.Fatal(err)
	}
	writeBundle(t, fs, "/bundle-4", `{"model_id":"det","version":"4.0.0"}`, map[string][]byte{"model.onnx": w4})
	before := fileSnapshot(t, fs, dir)
	for _, opts := range []AddOptions{
		encrypted("device", keyDir, "wrong"),
		{Encrypt: &EncryptOptions{Delivery: "device"}, ContentKeys: contentStore(keyDir, "wrong", nil), DeltaFrom: []string{"3.0.0"}},
		{ContentKeys: contentStore(keyDir, "wrong", nil), DeltaFrom: []string{"3.0.0"}},
		{DeltaFrom: []string{"3.0.0"}}, // an encrypted base needs the store
	} {
		if _, err := r.AddTarget("/bundle-4", f.kr, opts); err == nil {
			t.Errorf("%+v: published", opts)
		}
	}
	if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(d) != 0 {
		t.Errorf("refused publications changed %v", d)
	}
	s, _ := contentkeys.Open(keyDir, "right")
	if _, err := s.Get("det", "4.0.0"); !errors.Is(err, contentkeys.ErrNotFound) {
		t.Errorf("a content key for 4.0.0 was stored: %v", err)
	}
}

// A key left by a publication that failed is the one the retry uses.
func TestAddTargetEncryptedRetryReusesKey(t *testing.T) {
	t.Parallel()
	f, fs, dir, r, keyDir := encryptRepo(t)
	s, _ := contentkeys.Open(keyDir, "pw")
	left, err := s.Create("det", "3.0.0")
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.AddTarget("/bundle-3", f.kr, encrypted("device", keyDir, "pw"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Encrypted.Recipient != left.Recipient() {
		t.Errorf("recipient %s, want the stored key's %s", res.Encrypted.Recipient, left.Recipient())
	}
	if got := decryptTo(t, fs, dir, current(t, fs, dir), targets.TargetPath("det", "3.0.0", "model.onnx"), left); !bytes.Equal(got, w3) {
		t.Error("the payload does not decrypt with the stored key")
	}
	requireVerifies(t, fs, dir, t0)
}

// Identical payloads are linked between plaintext versions only: an
// encrypted version's file is its own ciphertext, and a plaintext version
// with an encrypted version's plaintext stores its own copy.
func TestAddTargetEncryptedNoLinks(t *testing.T) {
	t.Parallel()
	f, fs, dir, r, keyDir := encryptRepo(t)
	if _, err := r.AddTarget("/bundle-3", f.kr, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	writeBundle(t, fs, "/bundle-4", `{"model_id":"det","version":"4.0.0"}`, map[string][]byte{"model.onnx": w3})
	res, err := r.AddTarget("/bundle-4", f.kr, encrypted("device", keyDir, "pw"))
	if err != nil || len(res.Reused) != 0 {
		t.Fatalf("encrypted after plaintext: %+v, %v", res, err)
	}
	writeBundle(t, fs, "/bundle-5", `{"model_id":"det","version":"5.0.0"}`, map[string][]byte{"model.onnx": w3})
	if res, err = r.AddTarget("/bundle-5", f.kr, AddOptions{}); err != nil || len(res.Reused) != 1 || res.Reused[0].FromVersion != "3.0.0" {
		t.Fatalf("plaintext after encrypted: reused %+v, %v", res.Reused, err)
	}
	st := current(t, fs, dir)
	if got := decryptTo(t, fs, dir, st, targets.TargetPath("det", "4.0.0", "model.onnx"), storedKey(t, keyDir, "pw", "4.0.0")); !bytes.Equal(got, w3) {
		t.Error("4.0.0 does not decrypt to its bundle file")
	}
	requireNoWindow(t, "4.0.0", w3, readAll(t, fs, findTarget(t, fs, dir, targets.TargetPath("det", "4.0.0", "model.onnx"))))
	requireVerifies(t, fs, dir, t0)
}
