package testrepo

// Encrypted versions for device tests, published as the encryption
// contract describes (docs/encryption.md) without mrepo add-target
// --encrypt: the version is published in plaintext (with its patches),
// then each payload and patch target is replaced by its age ciphertext
// under a fresh content key, with the signed plaintext fields, and the
// manifest gains the encrypted field; the metadata is re-signed with the
// repository's own keys (ForgeTargetsDir).

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// EncryptOptions say how EncryptVersion encrypts a version.
type EncryptOptions struct {
	// Delivery is targets.DeliveryFleet (default), DeliveryDevice or
	// DeliveryKeyServer.
	Delivery string
	// Recipients ("age1tag1...") each get an envelope under keys/.
	Recipients []string
	// Tamper, if set, changes a file's ciphertext before it is signed: a
	// compromised publisher. target is the target path.
	Tamper func(target string, ciphertext []byte) []byte
	// Key is the content key (nil: a fresh one).
	Key *modelcrypt.ContentKey
}

// EncryptVersion encrypts the published version modelID@version in place
// and returns its content key.
func (r *Repo) EncryptVersion(t testing.TB, modelID, version string, o EncryptOptions) *modelcrypt.ContentKey {
	t.Helper()
	if o.Delivery == "" {
		o.Delivery = targets.DeliveryFleet
	}
	ck := o.Key
	if ck == nil {
		var err error
		if ck, err = modelcrypt.NewContentKey(); err != nil {
			t.Fatal(err)
		}
	}
	enc := &targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: ck.Recipient(), Delivery: o.Delivery}
	prefix := targets.TargetDir(modelID, version) + "/"
	err := ForgeTargetsDir(r.Dir, func(tg map[string]*metadata.TargetFiles) error {
		for path, tf := range tg {
			if !strings.HasPrefix(path, prefix) {
				continue
			}
			c, err := targets.ParseCustom(path, tf.Custom)
			if err != nil {
				return err
			}
			old := r.TargetFile(t, path)
			var data []byte
			switch c.Kind {
			case targets.KindManifest:
				plain, err := os.ReadFile(old)
				if err != nil {
					return err
				}
				c.Encrypted = enc
				c.Critical = append(c.Critical, targets.FieldEncrypted)
				var m map[string]any
				if err := json.Unmarshal(plain, &m); err != nil {
					return err
				}
				m["encrypted"] = enc
				crit, _ := m["critical"].([]any)
				m["critical"] = append(crit, targets.FieldEncrypted)
				if data, err = json.Marshal(m); err != nil {
					return err
				}
			default:
				// Streamed, file to file: models are large.
				ctPath := old + ".age"
				if err := encryptFile(old, ctPath, ck.Recipient(), c); err != nil {
					return err
				}
				if o.Tamper == nil {
					if err := os.Remove(old); err != nil {
						return err
					}
					if err := r.nameTarget(tf, c, path, ctPath); err != nil {
						return err
					}
					continue
				}
				ct, err := os.ReadFile(ctPath)
				if err != nil {
					return err
				}
				os.Remove(ctPath)
				data = o.Tamper(path, ct)
			}
			if err := os.Remove(old); err != nil {
				return err
			}
			tmp := old + ".new"
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				return err
			}
			if err := r.nameTarget(tf, c, path, tmp); err != nil {
				return err
			}
		}
		return nil
	}, r.Signers(t))
	if err != nil {
		t.Fatalf("testrepo: encrypt %s %s: %v", modelID, version, err)
	}
	for _, rc := range o.Recipients {
		r.WriteEnvelope(t, modelID, version, rc, modelcrypt.Grant{ModelID: modelID, Version: version, ContentKey: ck.String()})
	}
	return ck
}

// encryptFile encrypts src into dst for recipient and records the
// plaintext's length and SHA-256 in c.
func encryptFile(src, dst, recipient string, c *targets.Custom) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	n, sum, err := modelcrypt.EncryptStream(bw, bufio.NewReaderSize(in, 1<<20), recipient)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	c.Plaintext = &targets.Plaintext{Length: n, SHA256: sum}
	c.Critical = append(c.Critical, targets.FieldPlaintext)
	return err
}

// nameTarget gives the file tmp its consistent-snapshot name as target
// path, with custom metadata c, and updates tf to describe it.
func (r *Repo) nameTarget(tf *metadata.TargetFiles, c *targets.Custom, path, tmp string) error {
	slices.Sort(c.Critical)
	raw, err := c.Marshal()
	if err != nil {
		return err
	}
	if _, err := targets.ParseCustom(path, raw); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	f.Close()
	if err != nil {
		return err
	}
	sum := h.Sum(nil)
	name := filepath.Join(r.Dir, "targets", filepath.FromSlash(filepath.Dir(path)), hex.EncodeToString(sum)+"."+filepath.Base(path))
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	tf.Length, tf.Hashes, tf.Custom = n, metadata.Hashes{"sha256": sum}, raw
	return nil
}

// WriteEnvelope publishes an envelope of g for recipient under the keys/
// directory of modelID@version (whatever g names: tests forge some).
func (r *Repo) WriteEnvelope(t testing.TB, modelID, version, recipient string, g modelcrypt.Grant) {
	t.Helper()
	rc, err := modelcrypt.ParseRecipient(recipient)
	if err != nil {
		t.Fatal(err)
	}
	env, err := modelcrypt.SealEnvelope(rc, g)
	if err != nil {
		t.Fatal(err)
	}
	r.PutEnvelope(t, modelID, version, modelcrypt.EnvelopeName(rc), env)
}

// PutEnvelope writes raw envelope bytes as keys/NAME of modelID@version.
func (r *Repo) PutEnvelope(t testing.TB, modelID, version, name string, env []byte) {
	t.Helper()
	dir := filepath.Join(r.Dir, "targets", filepath.FromSlash(targets.EnvelopeDir(modelID, version)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), env, 0o644); err != nil {
		t.Fatal(err)
	}
}
