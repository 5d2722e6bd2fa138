package client_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// keptEncrypted makes det 1.0.0, active on d, an encrypted version
// (delivery "device") kept encrypted at rest, as an install with at_rest
// encrypted leaves it: the publisher's metadata signs the ciphertext and
// the plaintext's length and SHA-256 (testrepo.ForgeTargetsDir with the
// repository's own keys), the device trusts it, the installed model.bin
// is the ciphertext and the envelope for the device key (client.json's
// device_key, a file key) is kept in keys/det/1.0.0.age. It returns the
// plaintext and the ciphertext.
func keptEncrypted(t *testing.T, d *device, r *testrepo.Repo) (plain, cipher []byte) {
	t.Helper()
	plain, err := os.ReadFile(d.path("models", model, "1.0.0", "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	ck, err := modelcrypt.NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	var ct bytes.Buffer
	n, sum, err := modelcrypt.EncryptStream(&ct, bytes.NewReader(plain), ck.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	cipher = ct.Bytes()
	err = testrepo.ForgeTargetsDir(r.Dir, func(ts map[string]*metadata.TargetFiles) error {
		mp := targets.ManifestPath(model, "1.0.0")
		mc, err := targets.ParseCustom(mp, ts[mp].Custom)
		if err != nil {
			return err
		}
		mc.Encrypted = &targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: ck.Recipient(), Delivery: targets.DeliveryDevice}
		mc.Critical = append(mc.Critical, targets.FieldEncrypted)
		pp := targets.TargetPath(model, "1.0.0", "model.bin")
		pc, err := targets.ParseCustom(pp, ts[pp].Custom)
		if err != nil {
			return err
		}
		pc.Plaintext = &targets.Plaintext{Length: n, SHA256: sum}
		pc.Critical = append(pc.Critical, targets.FieldPlaintext)
		if ts[mp].Custom, err = mc.Marshal(); err != nil {
			return err
		}
		if ts[pp].Custom, err = pc.Marshal(); err != nil {
			return err
		}
		h := sha256.Sum256(cipher)
		ts[pp].Length, ts[pp].Hashes = int64(len(cipher)), metadata.Hashes{"sha256": h[:]}
		return nil
	}, r.Signers(t))
	if err != nil {
		t.Fatal(err)
	}
	// What a refresh would leave in the verified copy the offline session
	// reads.
	src := func(name string) string { return filepath.Join(r.Dir, "metadata", name) }
	ts, err := metadata.Timestamp().FromFile(src("timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := metadata.Snapshot().FromFile(src(fmt.Sprintf("%d.snapshot.json", ts.Signed.Meta["snapshot.json"].Version)))
	if err != nil {
		t.Fatal(err)
	}
	for dst, name := range map[string]string{
		"timestamp.json": "timestamp.json",
		"snapshot.json":  fmt.Sprintf("%d.snapshot.json", snap.Signed.Version),
		"targets.json":   fmt.Sprintf("%d.targets.json", snap.Signed.Meta["targets.json"].Version),
	} {
		data, err := os.ReadFile(src(name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(d.path("metadata-verified", dst), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	installed := d.path("models", model, "1.0.0", "model.bin")
	os.Remove(installed) // fs-verity may protect it from writes, not from removal
	if err := os.WriteFile(installed, cipher, 0o600); err != nil {
		t.Fatal(err)
	}
	key, ref, err := devicekey.Create("file", d.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.EditConfig(d.dir, func(c *client.Config) error { c.DeviceKey = ref; return nil }); err != nil {
		t.Fatal(err)
	}
	rs, err := modelcrypt.Recipient(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	rcp, err := modelcrypt.ParseRecipient(rs)
	if err != nil {
		t.Fatal(err)
	}
	env, err := modelcrypt.SealEnvelope(rcp, modelcrypt.Grant{ModelID: model, Version: "1.0.0", ContentKey: ck.String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(d.path("keys", model), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.path("keys", model, "1.0.0.age"), env, 0o600); err != nil {
		t.Fatal(err)
	}
	d.reopen(fastOpts())
	return plain, cipher
}

// TestOpenActiveKeptEncrypted: through the client's API, a version kept
// encrypted at rest is unsealed with the device key client.json names
// (opened on first use) and reads back as its plaintext, sequentially
// and at random offsets; Verify checks the ciphertext with no key;
// ActiveEncryption describes it. A missing envelope or device key is
// KEY_UNAVAILABLE, a flipped ciphertext byte DECRYPT_FAILED on read (and
// HASH_MISMATCH for Verify).
func TestOpenActiveKeptEncrypted(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.Publish(t, model, "1.0.0", map[string][]byte{"model.bin": payload(14, 300<<10)}, targets.Compat{})
	d := newDevice(t, r, serveRepo(t, r).URL, fastOpts())
	d.mustUpdate("1.0.0")
	plain, cipher := keptEncrypted(t, d, r)

	enc, atRest, err := d.c.ActiveEncryption(model)
	if err != nil || enc == nil || enc.Delivery != targets.DeliveryDevice || !atRest {
		t.Fatalf("ActiveEncryption: %+v, %v, %v", enc, atRest, err)
	}
	m, err := d.c.OpenActive(model)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := m.Open("model.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	buf := make([]byte, 1000)
	if n, err := rc.(io.ReaderAt).ReadAt(buf, 200<<10); err != nil || !bytes.Equal(buf[:n], plain[200<<10:200<<10+1000]) {
		t.Fatalf("ReadAt: %d, %v", n, err)
	}
	rc.Close()
	if _, err := d.c.Verify(model); err != nil {
		t.Fatalf("Verify: %v", err)
	}

	// The device key is needed at every load.
	if _, err := client.EditConfig(d.dir, func(c *client.Config) error { c.DeviceKey = ""; return nil }); err != nil {
		t.Fatal(err)
	}
	d.reopen(fastOpts())
	if _, err := d.c.OpenActive(model); client.CodeOf(err) != client.Code("KEY_UNAVAILABLE") {
		t.Fatalf("without a device key: %v", err)
	}
	if _, err := d.c.Verify(model); err != nil {
		t.Fatalf("Verify needs no key: %v", err)
	}
	d.reopen(client.Options{DeviceKey: deviceKeyOf(t, d)})
	os.Rename(d.path("keys", model, "1.0.0.age"), d.path("keys", model, "away"))
	if _, err := d.c.OpenActive(model); client.CodeOf(err) != client.Code("KEY_UNAVAILABLE") {
		t.Fatalf("without the envelope: %v", err)
	}
	os.Rename(d.path("keys", model, "away"), d.path("keys", model, "1.0.0.age"))

	// A flipped byte in the last chunk of the installed ciphertext fails
	// at Open (its last chunk is authenticated first), one in another
	// chunk on the read that reaches it.
	cipher[len(cipher)-5000] ^= 1
	os.WriteFile(d.path("models", model, "1.0.0", "model.bin"), cipher, 0o600)
	m, err = d.c.OpenActive(model)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open("model.bin"); client.CodeOf(err) != client.Code("DECRYPT_FAILED") || strings.Count(err.Error(), "DECRYPT_FAILED") != 1 {
		t.Fatalf("flipped byte in the last chunk: %v", err)
	}
	cipher[len(cipher)-5000] ^= 1
	cipher[100<<10] ^= 1
	os.WriteFile(d.path("models", model, "1.0.0", "model.bin"), cipher, 0o600)
	m, err = d.c.OpenActive(model)
	if err != nil {
		t.Fatal(err)
	}
	rc, err = m.Open("model.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); client.CodeOf(err) != client.Code("DECRYPT_FAILED") {
		t.Fatalf("flipped byte: %v", err)
	}
	rc.Close()
	if _, err := d.c.Verify(model); client.CodeOf(err) != client.HashMismatch {
		t.Fatalf("Verify of a flipped byte: %v", err)
	}
}

// deviceKeyOf opens the device key file keptEncrypted made, as an application
// would hand it to Options.DeviceKey.
func deviceKeyOf(t *testing.T, d *device) devicekey.Key {
	t.Helper()
	k, err := devicekey.Open("file", d.dir)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
