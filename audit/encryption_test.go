package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/contentkeys"
	"github.com/edgetuf/edgetuf/internal/modelcrypttest"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/release"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// publishedEncrypted is published's repository with det 3.0.0 published
// encrypted for delivery fleet (its envelope beside it), with a patch
// from 2.0.0.
func publishedEncrypted(t *testing.T) *fixture {
	t.Helper()
	r, rootKeys := testrepo.NewWithRootKeys(t, 1, 1)
	r.SetNow(func() time.Time { return t0 })
	for _, v := range []string{"1.0.0", "2.0.0"} {
		r.Publish(t, "det", v, detFiles(v), targets.Compat{Variant: "lite"})
	}
	fleet := modelcrypttest.NewDeviceKey(t).Parsed
	keyDir := t.TempDir()
	files := detFiles("2.0.0")
	files["model.onnx"] = append(files["model.onnx"], "retrained"...)
	res := r.PublishOpts(t, "det", "3.0.0", files, targets.Compat{Variant: "lite"}, repo.AddOptions{
		DeltaFrom:   []string{"2.0.0"},
		Encrypt:     &repo.EncryptOptions{Delivery: targets.DeliveryFleet, FleetRecipient: fleet},
		ContentKeys: func() (release.KeyStore, error) { return contentkeys.Open(keyDir, "test-only") },
	})
	published := 0
	for _, d := range res.Deltas {
		if d.Published {
			published++
		}
	}
	if res.Envelopes != 1 || published != 1 {
		t.Fatalf("publication %+v", res)
	}
	f := &fixture{fs: afero.NewOsFs(), dir: r.Dir, kr: r.Keys, rootJSON: r.Root}
	for _, k := range rootKeys {
		f.rootKey = k
	}
	return f
}

const (
	enc3      = "models/det/3.0.0/model.onnx"
	encMan3   = "models/det/3.0.0/manifest.json"
	encPatch3 = "models/det/3.0.0/deltas/2.0.0/model.onnx"
	keys3     = "models/det/3.0.0/keys"
)

// editCustom re-signs a target with its custom metadata edited.
func editCustom(t *testing.T, f *fixture, p string, edit func(c *targets.Custom)) {
	t.Helper()
	republish(t, f, func(st *state) {
		c, err := targets.ParseCustom(p, st.targets.Signed.Targets[p].Custom)
		if err != nil {
			t.Fatal(err)
		}
		edit(c)
		raw, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		m := json.RawMessage(raw)
		st.targets.Signed.Targets[p].Custom = &m
	})
}

func envelopeDir(f *fixture) string {
	return filepath.Join(f.dir, repofiles.TargetsDir, filepath.FromSlash(keys3))
}

func TestVerifyEncryption(t *testing.T) {
	t.Parallel()
	other, _ := modelcrypt.NewContentKey()
	for _, c := range []struct {
		name   string
		code   Code
		target string
		msg    string
		tamper func(t *testing.T, f *fixture)
	}{
		{"payload without plaintext", EncryptionInvalid, enc3, "without its plaintext",
			func(t *testing.T, f *fixture) {
				editCustom(t, f, enc3, func(c *targets.Custom) { c.Plaintext, c.Critical = nil, nil })
			}},
		{"patch without plaintext", EncryptionInvalid, encPatch3, "without its plaintext",
			func(t *testing.T, f *fixture) {
				editCustom(t, f, encPatch3, func(c *targets.Custom) { c.Plaintext, c.Critical = nil, nil })
			}},
		{"plaintext on a plaintext version", EncryptionInvalid, "models/det/2.0.0/labels.txt", "not encrypted",
			func(t *testing.T, f *fixture) {
				editCustom(t, f, "models/det/2.0.0/labels.txt", func(c *targets.Custom) {
					c.Plaintext, c.Critical = &targets.Plaintext{Length: 1, SHA256: sha([]byte("x"))}, []string{targets.FieldPlaintext}
				})
			}},
		{"signed recipient differs from the manifest's", EncryptionInvalid, encMan3, "encrypted differs",
			func(t *testing.T, f *fixture) {
				editCustom(t, f, encMan3, func(c *targets.Custom) { c.Encrypted.Recipient = other.Recipient() })
			}},
		{"recipient checksum", EncryptionInvalid, encMan3, "invalid content key recipient",
			func(t *testing.T, f *fixture) {
				editCustom(t, f, encMan3, func(c *targets.Custom) {
					r := []byte(c.Encrypted.Recipient)
					r[len(r)-1] = map[bool]byte{true: 'q', false: 'p'}[r[len(r)-1] == 'p']
					c.Encrypted.Recipient = string(r)
				})
			}},
		{"plaintext hash differs from the manifest's", ManifestMismatch, encMan3, "signed plaintext says",
			func(t *testing.T, f *fixture) {
				editCustom(t, f, enc3, func(c *targets.Custom) { c.Plaintext.SHA256 = sha([]byte("other")) })
			}},
		{"envelope too large", EnvelopeInvalid, keys3 + "/" + strings.Repeat("a", 64) + ".age", "over the 4096-byte limit",
			func(t *testing.T, f *fixture) {
				write(t, filepath.Join(envelopeDir(f), strings.Repeat("a", 64)+".age"), append([]byte("age-encryption.org/v1\n"), make([]byte, 5000)...))
			}},
		{"envelope misnamed", EnvelopeInvalid, keys3 + "/device-17.age", "not named",
			func(t *testing.T, f *fixture) {
				write(t, filepath.Join(envelopeDir(f), "device-17.age"), []byte("age-encryption.org/v1\n"))
			}},
		{"envelope not an age file", EnvelopeInvalid, keys3 + "/" + strings.Repeat("b", 64) + ".age", "not an age file",
			func(t *testing.T, f *fixture) {
				write(t, filepath.Join(envelopeDir(f), strings.Repeat("b", 64)+".age"), []byte("secret key in the clear"))
			}},
		{"directory among envelopes", EnvelopeInvalid, keys3 + "/sub", "not a regular file",
			func(t *testing.T, f *fixture) {
				if err := os.Mkdir(filepath.Join(envelopeDir(f), "sub"), 0o755); err != nil {
					t.Fatal(err)
				}
			}},
		{"envelopes beside a plaintext version", EnvelopeInvalid, "models/det/2.0.0/keys", "not published encrypted",
			func(t *testing.T, f *fixture) {
				write(t, filepath.Join(f.dir, repofiles.TargetsDir, "models", "det", "2.0.0", "keys", strings.Repeat("c", 64)+".age"), []byte("age-encryption.org/v1\n"))
			}},
		{"keys is a file", EnvelopeInvalid, "models/det/1.0.0/keys", "not a directory",
			func(t *testing.T, f *fixture) {
				write(t, filepath.Join(f.dir, repofiles.TargetsDir, "models", "det", "1.0.0", "keys"), []byte("x"))
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := publishedEncrypted(t)
			if rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0.Add(time.Hour)}); !rep.OK() {
				t.Fatalf("before tampering:\n%s", problemList(rep))
			}
			c.tamper(t, f)
			rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0.Add(time.Hour)})
			for _, p := range rep.Problems {
				if p.Code == c.code && p.Target == c.target && strings.Contains(p.Message, c.msg) {
					return
				}
			}
			t.Fatalf("no %s for %s mentioning %q; got:\n%s", c.code, c.target, c.msg, problemList(rep))
		})
	}
}

func write(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyPlaintextPatchFromEncryptedBase: a plaintext version's patch
// from an encrypted base reveals that base (its XOR and SUB regions are
// new^old and new-old, and the new file is public). add-target refuses to
// publish one; a repository published before that is reported.
func TestVerifyPlaintextPatchFromEncryptedBase(t *testing.T) {
	t.Parallel()
	r, rootKeys := testrepo.NewWithRootKeys(t, 1, 1)
	r.SetNow(func() time.Time { return t0 })
	for _, v := range []string{"1.0.0", "2.0.0"} {
		r.Publish(t, "det", v, detFiles(v), targets.Compat{Variant: "lite"})
	}
	files := detFiles("2.0.0")
	files["model.onnx"] = append(files["model.onnx"], "retrained"...)
	r.PublishOpts(t, "det", "3.0.0", files, targets.Compat{Variant: "lite"}, repo.AddOptions{DeltaFrom: []string{"2.0.0"}})
	f := &fixture{fs: afero.NewOsFs(), dir: r.Dir, kr: r.Keys, rootJSON: r.Root}
	for _, k := range rootKeys {
		f.rootKey = k
	}
	const patch = "models/det/3.0.0/deltas/2.0.0/model.onnx"
	problems := func() []Problem {
		var out []Problem
		for _, p := range Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0.Add(time.Hour)}).Problems {
			if p.Target == patch && p.Code == EncryptionInvalid {
				out = append(out, p)
			}
		}
		return out
	}
	if ps := problems(); len(ps) != 0 {
		t.Fatalf("a patch between plaintext versions reported: %+v", ps)
	}
	// 2.0.0 as if it had been published encrypted.
	key, _ := modelcrypt.NewContentKey()
	editCustom(t, f, "models/det/2.0.0/manifest.json", func(c *targets.Custom) {
		c.Encrypted = &targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: key.Recipient(), Delivery: targets.DeliveryDevice}
		c.Critical = []string{targets.FieldEncrypted}
	})
	if ps := problems(); len(ps) != 1 || !strings.Contains(ps[0].Message, "reveals") {
		t.Fatalf("plaintext patch from an encrypted base: %+v", ps)
	}
}
