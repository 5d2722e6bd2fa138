package grant_test

import (
	"crypto/ecdh"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/contentkeys"
	"github.com/edgetuf/edgetuf/grant"
	"github.com/edgetuf/edgetuf/internal/modelcrypttest"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
)

// device is a test device: its P-256 key and its enrolment line.
type device struct {
	key *ecdh.PrivateKey
	modelcrypt.Device
}

func (d device) Public() *ecdh.PublicKey                { return d.key.PublicKey() }
func (d device) ECDH(r *ecdh.PublicKey) ([]byte, error) { return d.key.ECDH(r) }

func newDevices(t testing.TB, n int) []device {
	t.Helper()
	out := make([]device, n)
	for i := range out {
		k := modelcrypttest.NewDeviceKey(t)
		out[i] = device{key: k.Priv, Device: modelcrypt.Device{Recipient: k.Parsed}}
	}
	return out
}

func enrolled(ds ...device) []modelcrypt.Device {
	out := make([]modelcrypt.Device, len(ds))
	for i, d := range ds {
		out[i] = d.Device
	}
	return out
}

// memKeys is a content key store in memory (grant.ContentKeys).
type memKeys map[string]*modelcrypt.ContentKey

func (m memKeys) Get(modelID, version string) (*modelcrypt.ContentKey, error) {
	if k := m[modelID+"@"+version]; k != nil {
		return k, nil
	}
	return nil, contentkeys.ErrNotFound
}

// published is a repository with det 1.0.0 published, its manifest target
// signed as encrypted for ck with the given delivery (delivery "": left
// plaintext), and the content key in keys.
type published struct {
	tr   *testrepo.Repo
	ck   *modelcrypt.ContentKey
	keys memKeys
}

func publish(t testing.TB, delivery string) *published {
	t.Helper()
	tr := testrepo.New(t)
	tr.Publish(t, "det", "1.0.0", map[string][]byte{"model.onnx": []byte("weights 1.0.0")}, targets.Compat{})
	ck := modelcrypttest.NewContentKey(t)
	if delivery != "" {
		signEncrypted(t, tr, "det", "1.0.0", ck.Recipient(), delivery)
	}
	return &published{tr: tr, ck: ck, keys: memKeys{"det@1.0.0": ck}}
}

// signEncrypted signs the encrypted field into a published version's
// manifest target with the repository's own keys: what add-target
// --encrypt records (the payload itself stays as it is: grant never
// reads it).
func signEncrypted(t testing.TB, tr *testrepo.Repo, modelID, version, recipient, delivery string) {
	t.Helper()
	e := targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: recipient, Delivery: delivery}
	if err := testrepo.ForgeEncryptedDir(tr.Dir, modelID, version, e, tr.Signers(t)); err != nil {
		t.Fatal(err)
	}
}

func (p *published) envelopeDir() string {
	return filepath.Join(p.tr.Dir, "targets", filepath.FromSlash(targets.EnvelopeDir("det", "1.0.0")))
}

func (p *published) envelopePath(d device) string {
	return filepath.Join(p.envelopeDir(), modelcrypt.EnvelopeName(d.Recipient))
}

func (p *published) grant(t *testing.T, opts grant.Options) *grant.Result {
	t.Helper()
	res, err := grant.Grant(p.tr.R, p.keys, "det", "1.0.0", opts)
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	return res
}

// tree hashes every file under dir, by path.
func tree(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = sha256.Sum256(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, what string, a, b map[string][32]byte) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d files, then %d", what, len(a), len(b))
	}
	for p, h := range a {
		if b[p] != h {
			t.Fatalf("%s: %s changed", what, p)
		}
	}
}

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var me *modelcrypt.Error
	if !errors.As(err, &me) || me.Code != code {
		t.Fatalf("got %v, want a %s error", err, code)
	}
}

// TestGrantEnvelopesOpenPerDevice: every enrolled device's envelope opens
// with its own key and gives the version's content key; a device not in
// the file has none; one device's envelope does not open with another's
// key; no metadata file and no payload byte changes.
func TestGrantEnvelopesOpenPerDevice(t *testing.T) {
	p := publish(t, targets.DeliveryDevice)
	ds := newDevices(t, 4)
	metaBefore := tree(t, filepath.Join(p.tr.Dir, "metadata"))
	targetsBefore := tree(t, filepath.Join(p.tr.Dir, "targets"))

	res := p.grant(t, grant.Options{Devices: enrolled(ds[:3]...)})
	if res.Devices != 3 || res.Granted != 3 || res.Kept != 0 || res.Pruned != 0 || res.Bytes <= 0 {
		t.Fatalf("result %+v", res)
	}
	var total int64
	for _, d := range ds[:3] {
		env, err := os.ReadFile(p.envelopePath(d))
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(env))
		ck, err := modelcrypt.OpenEnvelope(env, d, "det", "1.0.0", p.ck.Recipient(), now)
		if err != nil {
			t.Fatalf("device's own envelope: %v", err)
		}
		if ck.String() != p.ck.String() {
			t.Fatal("the envelope holds another key")
		}
		_, err = modelcrypt.OpenEnvelope(env, ds[3], "det", "1.0.0", p.ck.Recipient(), now)
		wantCode(t, err, modelcrypt.CodeDecryptFailed)
	}
	if total != res.Bytes {
		t.Fatalf("result says %d bytes, envelopes are %d", res.Bytes, total)
	}
	if _, err := os.Stat(p.envelopePath(ds[3])); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a device not in the file has an envelope: %v", err)
	}
	sameTree(t, "metadata", metaBefore, tree(t, filepath.Join(p.tr.Dir, "metadata")))
	after := tree(t, filepath.Join(p.tr.Dir, "targets"))
	for path := range after {
		if filepath.Dir(path) != p.envelopeDir() {
			continue
		}
		delete(after, path)
	}
	sameTree(t, "targets other than envelopes", targetsBefore, after)
}

// TestGrantKeepsAndPrunes: a second grant keeps the envelopes it finds
// (byte for byte), writes only the new devices', and --prune removes the
// envelopes of devices no longer listed, and only with --prune.
func TestGrantKeepsAndPrunes(t *testing.T) {
	p := publish(t, targets.DeliveryDevice)
	ds := newDevices(t, 4)
	p.grant(t, grant.Options{Devices: enrolled(ds[0], ds[1], ds[2])})
	first := tree(t, p.envelopeDir())

	res := p.grant(t, grant.Options{Devices: enrolled(ds[0], ds[1], ds[3], ds[0])})
	if res.Granted != 1 || res.Kept != 2 || res.Pruned != 0 {
		t.Fatalf("second grant %+v", res)
	}
	now := tree(t, p.envelopeDir())
	for path, h := range first {
		if now[path] != h {
			t.Fatalf("%s was rewritten or removed without --prune", path)
		}
	}

	res = p.grant(t, grant.Options{Devices: enrolled(ds[0], ds[3]), Prune: true})
	if res.Granted != 0 || res.Kept != 2 || res.Pruned != 2 {
		t.Fatalf("pruning grant %+v", res)
	}
	for i, d := range ds {
		_, err := os.Stat(p.envelopePath(d))
		if kept := i == 0 || i == 3; kept != (err == nil) {
			t.Fatalf("device %d: envelope present %v after pruning (err %v)", i, err == nil, err)
		}
	}
}

// TestGrantRefusals: a version that is not published, not encrypted, of
// another delivery, or whose stored key is not the signed one is refused
// and nothing is written.
func TestGrantRefusals(t *testing.T) {
	ds := newDevices(t, 2)
	other, _ := modelcrypt.NewContentKey()
	for _, c := range []struct {
		name, delivery, version string
		keys                    func(p *published) memKeys
		want                    error
	}{
		{name: "plaintext version", version: "1.0.0", want: grant.ErrNotEncrypted},
		{name: "fleet delivery", delivery: targets.DeliveryFleet, version: "1.0.0", want: grant.ErrDelivery},
		{name: "key service delivery", delivery: targets.DeliveryKeyServer, version: "1.0.0", want: grant.ErrDelivery},
		{name: "unpublished version", delivery: targets.DeliveryDevice, version: "2.0.0", want: rollout.ErrNotPublished},
		{name: "no stored key", delivery: targets.DeliveryDevice, version: "1.0.0", keys: func(*published) memKeys { return memKeys{} }, want: contentkeys.ErrNotFound},
		{name: "another stored key", delivery: targets.DeliveryDevice, version: "1.0.0", keys: func(*published) memKeys { return memKeys{"det@1.0.0": other} }, want: grant.ErrKeyMismatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := publish(t, c.delivery)
			if c.keys != nil {
				p.keys = c.keys(p)
			}
			before := tree(t, p.tr.Dir)
			_, err := grant.Grant(p.tr.R, p.keys, "det", c.version, grant.Options{Devices: enrolled(ds...)})
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			sameTree(t, "repository", before, tree(t, p.tr.Dir))
			if _, err := os.Stat(p.envelopeDir()); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("envelope directory created: %v", err)
			}
		})
	}
}

// TestGrantRefusesEditedMetadata: a version whose signed metadata was
// edited on disk (here: its delivery changed by hand, no new signature)
// is not granted.
func TestGrantRefusesEditedMetadata(t *testing.T) {
	p := publish(t, targets.DeliveryFleet)
	matches, _ := filepath.Glob(filepath.Join(p.tr.Dir, "metadata", "*.targets.json"))
	edited := false
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(data); strings.Contains(s, `"delivery":"fleet"`) || strings.Contains(s, `"delivery": "fleet"`) {
			s = strings.NewReplacer(`"delivery":"fleet"`, `"delivery":"device"`, `"delivery": "fleet"`, `"delivery": "device"`).Replace(s)
			if err := os.WriteFile(m, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			edited = true
		}
	}
	if !edited {
		t.Fatal("no targets metadata records the delivery")
	}
	_, err := grant.Grant(p.tr.R, p.keys, "det", "1.0.0", grant.Options{Devices: enrolled(newDevices(t, 1)...)})
	if !errors.Is(err, repo.ErrStoredMetadata) {
		t.Fatalf("got %v, want repo.ErrStoredMetadata", err)
	}
	if _, err := os.Stat(p.envelopeDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("envelope directory created: %v", err)
	}
}

// TestGrantAfterCrash: what a grant killed mid-way leaves (a temporary
// file, complete envelopes) is mended by the next one: the temporary file
// is removed, complete envelopes are kept, an empty file or a link under
// an envelope's name (put there by something else: grant renames only
// complete files) is replaced.
func TestGrantAfterCrash(t *testing.T) {
	p := publish(t, targets.DeliveryDevice)
	ds := newDevices(t, 3)
	p.grant(t, grant.Options{Devices: enrolled(ds[0])})
	tmp := filepath.Join(p.envelopeDir(), ".tmp-123456")
	if err := os.WriteFile(tmp, []byte("age-encryption.org/v1\n-> p256"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.envelopePath(ds[1]), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A link under a device's envelope name (to another device's
	// envelope) is replaced by the device's own envelope, not kept.
	if err := os.Symlink(p.envelopePath(ds[0]), p.envelopePath(ds[2])); err != nil {
		t.Fatal(err)
	}
	res := p.grant(t, grant.Options{Devices: enrolled(ds...)})
	if res.Granted != 2 || res.Kept != 1 {
		t.Fatalf("result %+v", res)
	}
	if fi, err := os.Lstat(p.envelopePath(ds[2])); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("the link was kept: %v %v", fi, err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
	for _, d := range ds {
		env, err := os.ReadFile(p.envelopePath(d))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := modelcrypt.OpenEnvelope(env, d, "det", "1.0.0", p.ck.Recipient(), now); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGrantEnvelopeBlocked: a directory under a device's envelope name
// fails the grant with ErrEnvelopeDir (it is not silently skipped).
func TestGrantEnvelopeBlocked(t *testing.T) {
	p := publish(t, targets.DeliveryDevice)
	ds := newDevices(t, 1)
	if err := os.MkdirAll(filepath.Join(p.envelopePath(ds[0]), "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := grant.Grant(p.tr.R, p.keys, "det", "1.0.0", grant.Options{Devices: enrolled(ds...)}); !errors.Is(err, grant.ErrEnvelopeDir) {
		t.Fatalf("got %v, want ErrEnvelopeDir", err)
	}
}

// TestGrantWithStoredKey: the key comes from the passphrase-protected
// content key store, as mrepo grant reads it.
func TestGrantWithStoredKey(t *testing.T) {
	tr := testrepo.New(t)
	tr.Publish(t, "det", "1.0.0", map[string][]byte{"model.onnx": []byte("weights")}, targets.Compat{})
	store, err := contentkeys.Open(t.TempDir(), "test-only-content-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	ck, err := store.Create("det", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	signEncrypted(t, tr, "det", "1.0.0", ck.Recipient(), targets.DeliveryDevice)
	ds := newDevices(t, 2)
	res, err := grant.Grant(tr.R, store, "det", "1.0.0", grant.Options{Devices: enrolled(ds...)})
	if err != nil || res.Granted != 2 {
		t.Fatalf("grant: %+v, %v", res, err)
	}
	p := &published{tr: tr, ck: ck}
	env, err := os.ReadFile(p.envelopePath(ds[1]))
	if err != nil {
		t.Fatal(err)
	}
	got, err := modelcrypt.OpenEnvelope(env, ds[1], "det", "1.0.0", ck.Recipient(), now)
	if err != nil || got.String() != ck.String() {
		t.Fatalf("open: %v", err)
	}
	// An envelope of 1.0.0 replayed as another version's is refused.
	_, err = modelcrypt.OpenEnvelope(env, ds[1], "det", "2.0.0", ck.Recipient(), now)
	wantCode(t, err, modelcrypt.CodeDecryptFailed)
}

// TestGrantRefusesRevokedVersion: a version revoked by the kill switch is
// granted to no device, and nothing is written.
func TestGrantRefusesRevokedVersion(t *testing.T) {
	p := publish(t, targets.DeliveryDevice)
	rev := &targets.Revocation{Reason: "bad weights", Time: "2026-12-04T00:00:00Z"}
	if err := testrepo.ForgeControlsDir(p.tr.Dir, "det", "1.0.0", nil, rev, nil, p.tr.Signers(t)); err != nil {
		t.Fatal(err)
	}
	before := tree(t, p.tr.Dir)
	_, err := grant.Grant(p.tr.R, p.keys, "det", "1.0.0", grant.Options{Devices: enrolled(newDevices(t, 1)...)})
	if !errors.Is(err, grant.ErrRevoked) {
		t.Fatalf("got %v, want %v", err, grant.ErrRevoked)
	}
	sameTree(t, "repository", before, tree(t, p.tr.Dir))
}

// TestGrantPruneRefusesNoDevices: --prune with an empty devices list (an
// empty or truncated file) would withdraw every envelope: refused, every
// envelope kept.
func TestGrantPruneRefusesNoDevices(t *testing.T) {
	p := publish(t, targets.DeliveryDevice)
	ds := newDevices(t, 2)
	if _, err := grant.Grant(p.tr.R, p.keys, "det", "1.0.0", grant.Options{Devices: enrolled(ds...)}); err != nil {
		t.Fatal(err)
	}
	before := tree(t, p.tr.Dir)
	_, err := grant.Grant(p.tr.R, p.keys, "det", "1.0.0", grant.Options{Prune: true})
	if !errors.Is(err, grant.ErrNoDevices) {
		t.Fatalf("got %v, want %v", err, grant.ErrNoDevices)
	}
	sameTree(t, "repository", before, tree(t, p.tr.Dir))
}
