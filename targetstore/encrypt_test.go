package targetstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age/tag"
	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/modelcrypttest"
	"github.com/edgetuf/edgetuf/internal/modelpairs"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// newKey is a fresh content key.
func newKey(t testing.TB) *modelcrypt.ContentKey { return modelcrypttest.NewContentKey(t) }

// TestPutBundleFileEncrypted: the target is the ciphertext, which
// decrypts to the bundle file; a file that contradicts its manifest entry
// (size, SHA-256, longer than declared) leaves nothing under targets/.
func TestPutBundleFileEncrypted(t *testing.T) {
	key := newKey(t)
	data := bytes.Repeat([]byte("weights "), 20000)
	for _, c := range []struct {
		name, entry, want string
	}{
		{"no entry", ``, ""},
		{"matching entry", fmt.Sprintf(`,"files":[{"path":"m.bin","size":%d,"sha256":"%s"}]`, len(data), hexSHA(data)), ""},
		{"wrong size", fmt.Sprintf(`,"files":[{"path":"m.bin","size":%d}]`, len(data)+1), "manifest says"},
		{"longer than declared", fmt.Sprintf(`,"files":[{"path":"m.bin","size":%d}]`, len(data)-1), "longer than the manifest's"},
		{"wrong hash", fmt.Sprintf(`,"files":[{"path":"m.bin","sha256":"%s"}]`, hexSHA([]byte("other"))), "manifest says"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := afero.NewMemMapFs()
			writeDir(t, fs, "/b", map[string]string{"manifest.json": `{"model_id":"det","version":"1.0.0"` + c.entry + `}`, "m.bin": string(data)})
			b, err := ReadBundle(fs, "/b")
			if err != nil {
				t.Fatal(err)
			}
			s := Store{Fs: fs, Dir: "/repo"}
			tf, plain, err := s.PutBundleFileEncrypted(b, "m.bin", nil, key.Recipient())
			if c.want != "" {
				if !errors.Is(err, ErrBundle) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err %v, want ErrBundle %q", err, c.want)
				}
				if files := storedFiles(t, s); len(files) != 0 {
					t.Fatalf("stored %v", files)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if plain.Length != int64(len(data)) || plain.SHA256 != hexSHA(data) {
				t.Errorf("plaintext %+v", plain)
			}
			ct := readAll(t, s, tf)
			if int64(len(ct)) != tf.Length || hexSHA(ct) != fmt.Sprintf("%x", []byte(tf.Hashes["sha256"])) {
				t.Error("the target's length and hash are not the stored ciphertext's")
			}
			var out bytes.Buffer
			if err := modelcrypt.DecryptVerified(&out, bytes.NewReader(ct), key, plain.Length, plain.SHA256); err != nil || !bytes.Equal(out.Bytes(), data) {
				t.Errorf("decrypt: %v", err)
			}
		})
	}
}

// encryptedStore stores det 1.0.0 (encrypted under key1 when it is set)
// and 2.0.0 (under key2 when set) and returns the base and the new
// version's encryption (nil for plaintext).
func encryptedStore(t *testing.T, w1, w2 []byte, key1, key2 *modelcrypt.ContentKey) (Store, DeltaBase, map[string]*metadata.TargetFiles, *EncryptedFiles) {
	t.Helper()
	s := Store{Fs: afero.NewMemMapFs(), Dir: "/repo"}
	put := func(version string, data []byte, key *modelcrypt.ContentKey) (*metadata.TargetFiles, *EncryptedFiles) {
		p := targets.TargetPath("det", version, "model.bin")
		if key == nil {
			tf, err := s.Put(p, bytes.NewReader(data), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			return tf, nil
		}
		tf, plain, err := s.putEncrypted(p, bytes.NewReader(data), -1, nil, nil, key.Recipient(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return tf, &EncryptedFiles{Key: key, Plain: map[string]*targets.Plaintext{"model.bin": plain}}
	}
	tf1, enc1 := put("1.0.0", w1, key1)
	tf2, enc2 := put("2.0.0", w2, key2)
	return s, DeltaBase{Version: "1.0.0", Files: map[string]*metadata.TargetFiles{"model.bin": tf1}, Encrypted: enc1}, map[string]*metadata.TargetFiles{tf2.Path: tf2}, enc2
}

// TestPutDeltasEncrypted: between any mix of encrypted and plaintext
// versions the patch connects the plaintexts; it is encrypted under the
// new version's key exactly when the new version is encrypted; no
// plaintext is left in tmp/.
func TestPutDeltasEncrypted(t *testing.T) {
	w1, w2 := modelpairs.Bytes("tail", 32<<10, 1)
	m := &targets.Manifest{ModelID: "det", Version: "2.0.0"}
	for _, c := range []struct {
		name       string
		base, next bool
	}{{"encrypted from encrypted", true, true}, {"encrypted from plaintext", false, true}, {"plaintext from encrypted", true, false}} {
		t.Run(c.name, func(t *testing.T) {
			var k1, k2 *modelcrypt.ContentKey
			if c.base {
				k1 = newKey(t)
			}
			if c.next {
				k2 = newKey(t)
			}
			s, base, newTargets, enc := encryptedStore(t, w1, w2, k1, k2)
			results, refs, err := s.PutDeltas(m, []string{"model.bin"}, []DeltaBase{base}, DeltaPolicy{MinSaving: DefaultDeltaMinSaving}, newTargets, enc, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 1 || !results[0].Published || len(refs["model.bin"]) != 1 {
				t.Fatalf("results %+v", results)
			}
			tf := newTargets[results[0].Target]
			patch := readAll(t, s, tf)
			c2, err := targets.ParseCustom(tf.Path, tf.Custom)
			if err != nil {
				t.Fatal(err)
			}
			if c.next {
				if c2.Plaintext == nil || results[0].Length != tf.Length {
					t.Fatalf("custom %+v, result %+v", c2, results[0])
				}
				var out bytes.Buffer
				if err := modelcrypt.DecryptVerified(&out, bytes.NewReader(patch), k2, c2.Plaintext.Length, c2.Plaintext.SHA256); err != nil {
					t.Fatal(err)
				}
				patch = out.Bytes()
			} else if c2.Plaintext != nil {
				t.Errorf("plaintext patch with a plaintext field: %+v", c2)
			}
			var out bytes.Buffer
			if _, err := deltaApply(w1, patch, &out); err != nil || !bytes.Equal(out.Bytes(), w2) {
				t.Fatalf("applying to the base plaintext: %v", err)
			}
			if names, _ := afero.ReadDir(s.Fs, filepath.Join(s.Dir, TmpDir)); len(names) != 0 {
				t.Errorf("tmp/ holds %d files", len(names))
			}
		})
	}
}

// TestPutDeltasEncryptedBaseTampered: an encrypted base whose ciphertext
// does not decrypt to its signed plaintext stops the publication with
// DECRYPT_FAILED, and leaves no plaintext in tmp/ and no patch.
func TestPutDeltasEncryptedBaseTampered(t *testing.T) {
	w1, w2 := modelpairs.Bytes("tail", 32<<10, 1)
	k1, k2 := newKey(t), newKey(t)
	for _, tamper := range []string{"flipped byte", "other plaintext", "other key"} {
		t.Run(tamper, func(t *testing.T) {
			s, base, newTargets, enc := encryptedStore(t, w1, w2, k1, k2)
			switch tamper {
			case "flipped byte":
				p := s.path(base.Files["model.bin"].Path, base.Files["model.bin"].Hashes["sha256"])
				b, _ := afero.ReadFile(s.Fs, p)
				b[len(b)-100] ^= 1
				afero.WriteFile(s.Fs, p, b, 0o644)
			case "other plaintext":
				base.Encrypted.Plain["model.bin"] = &targets.Plaintext{Length: int64(len(w1)), SHA256: hexSHA(w2)}
			case "other key":
				base.Encrypted.Key = k2
			}
			m := &targets.Manifest{ModelID: "det", Version: "2.0.0"}
			_, _, err := s.PutDeltas(m, []string{"model.bin"}, []DeltaBase{base}, DeltaPolicy{MinSaving: DefaultDeltaMinSaving}, newTargets, enc, nil)
			var me *modelcrypt.Error
			if !errors.As(err, &me) || me.Code != modelcrypt.CodeDecryptFailed {
				t.Fatalf("err %v, want DECRYPT_FAILED", err)
			}
			if names, _ := afero.ReadDir(s.Fs, filepath.Join(s.Dir, TmpDir)); len(names) != 0 {
				t.Errorf("tmp/ holds %d files", len(names))
			}
			if _, err := s.Fs.Stat(filepath.Join(s.Dir, "targets", "models", "det", "2.0.0", "deltas")); !os.IsNotExist(err) {
				t.Errorf("deltas directory: %v", err)
			}
		})
	}
}

// deviceRecipient is a fresh device key's recipient.
func deviceRecipient(t testing.TB) *tag.Recipient { return modelcrypttest.NewDeviceKey(t).Parsed }

// TestPutEnvelopes: one envelope per distinct recipient, named by
// EnvelopeName, replaced when written again; no temporary file stays.
func TestPutEnvelopes(t *testing.T) {
	s := Store{Fs: afero.NewMemMapFs(), Dir: "/repo"}
	key := newKey(t)
	var rs []*tag.Recipient
	for range 5 {
		rs = append(rs, deviceRecipient(t))
	}
	n, err := s.PutEnvelopes("det", "1.0.0", append(rs, rs[0]), key)
	if err != nil || n != 5 {
		t.Fatalf("PutEnvelopes: %d, %v", n, err)
	}
	dir := s.EnvelopeDir("det", "1.0.0")
	first, _ := afero.ReadFile(s.Fs, filepath.Join(dir, modelcrypt.EnvelopeName(rs[0])))
	if n, err := s.PutEnvelopes("det", "1.0.0", rs[:1], key); err != nil || n != 1 {
		t.Fatalf("again: %d, %v", n, err)
	}
	entries, _ := afero.ReadDir(s.Fs, dir)
	if len(entries) != 5 {
		t.Fatalf("%d files", len(entries))
	}
	for _, e := range entries {
		if e.Size() > modelcrypt.MaxEnvelopeSize || !strings.HasSuffix(e.Name(), ".age") || len(e.Name()) != 68 {
			t.Errorf("envelope %s of %d bytes", e.Name(), e.Size())
		}
	}
	again, _ := afero.ReadFile(s.Fs, filepath.Join(dir, modelcrypt.EnvelopeName(rs[0])))
	if bytes.Equal(first, again) || len(again) == 0 {
		t.Error("the envelope was not replaced")
	}
	if _, err := s.PutEnvelopes("../x", "1.0.0", rs, key); err == nil {
		t.Error("a model ID that escapes was accepted")
	}
}

// TestPutEnvelopesFailureLeavesNoTemp: a rename that fails leaves no
// temporary file behind.
func TestPutEnvelopesFailureLeavesNoTemp(t *testing.T) {
	s := Store{Fs: &failRename{Fs: afero.NewMemMapFs()}, Dir: "/repo"}
	if _, err := s.PutEnvelopes("det", "1.0.0", []*tag.Recipient{deviceRecipient(t), deviceRecipient(t)}, newKey(t)); err == nil {
		t.Fatal("no error")
	}
	entries, _ := afero.ReadDir(s.Fs, s.EnvelopeDir("det", "1.0.0"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left", e.Name())
		}
	}
}

type failRename struct{ afero.Fs }

func (f *failRename) Rename(string, string) error { return errors.New("injected rename failure") }

// deltaApply applies patch to base (both in memory).
func deltaApply(base, patch []byte, out *bytes.Buffer) (*delta.Header, error) {
	return delta.Apply(bytes.NewReader(base), int64(len(base)), bytes.NewReader(patch), int64(len(patch)), out, delta.Limits{VerifyBase: true})
}
