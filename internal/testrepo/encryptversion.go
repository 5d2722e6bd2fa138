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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/spf13/afero"
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
	store := targetstore.Store{Fs: afero.NewOsFs(), Dir: r.Dir}
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
			var stored *metadata.TargetFiles
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
				data, err := json.Marshal(m)
				if err != nil {
					return err
				}
				if stored, err = store.Put(path, bytes.NewReader(data), nil, nil); err != nil {
					return err
				}
			default:
				if o.Tamper == nil {
					// Streamed, file to store: models are large.
					stored, err = putEncrypted(store, path, old, ck.Recipient(), c)
				} else {
					var ct bytes.Buffer
					if err = encryptFile(&ct, old, ck.Recipient(), c); err == nil {
						stored, err = store.Put(path, bytes.NewReader(o.Tamper(path, ct.Bytes())), nil, nil)
					}
				}
				if err != nil {
					return err
				}
			}
			if err := os.Remove(old); err != nil {
				return err
			}
			if err := describeTarget(tf, c, path, stored); err != nil {
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

// encryptFile writes the encryption of the file src for recipient to dst
// and records the plaintext's length and SHA-256 in c.
func encryptFile(dst io.Writer, src, recipient string, c *targets.Custom) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	bw := bufio.NewWriterSize(dst, 1<<20)
	n, sum, err := modelcrypt.EncryptStream(bw, bufio.NewReaderSize(in, 1<<20), recipient)
	if err == nil {
		err = bw.Flush()
	}
	c.Plaintext = &targets.Plaintext{Length: n, SHA256: sum}
	c.Critical = append(c.Critical, targets.FieldPlaintext)
	return err
}

// putEncrypted stores the encryption of the file src for recipient as
// target path (encryptFile, streamed into the store's Put).
func putEncrypted(store targetstore.Store, path, src, recipient string, c *targets.Custom) (*metadata.TargetFiles, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := encryptFile(pw, src, recipient, c)
		pw.CloseWithError(err)
		done <- err
	}()
	stored, err := store.Put(path, pr, nil, nil)
	pr.CloseWithError(errors.New("testrepo: stopped"))
	eerr := <-done
	if err != nil {
		return nil, err
	}
	return stored, eerr
}

// describeTarget updates tf to describe stored, the file of target path
// (as targetstore.Store.Put named it), with custom metadata c.
func describeTarget(tf *metadata.TargetFiles, c *targets.Custom, path string, stored *metadata.TargetFiles) error {
	slices.Sort(c.Critical)
	raw, err := c.Marshal()
	if err != nil {
		return err
	}
	if _, err := targets.ParseCustom(path, raw); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tf.Length, tf.Hashes, tf.Custom = stored.Length, stored.Hashes, raw
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
