package verifiedread

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/keyring"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// softKey is a device key in memory (test-only).
type softKey struct{ k *ecdh.PrivateKey }

func (s softKey) Public() *ecdh.PublicKey                { return s.k.PublicKey() }
func (s softKey) ECDH(r *ecdh.PublicKey) ([]byte, error) { return s.k.ECDH(r) }

func newSoftKey(t testing.TB) softKey {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return softKey{k}
}

// sealedVersion is det 1.0.0 of an encrypted publication (delivery
// "device"), installed under a temporary state directory.
type sealedVersion struct {
	state  string
	p      devstate.ModelPaths
	plain  []byte
	cipher []byte
	key    *modelcrypt.ContentKey
	device softKey
	signed map[string]*metadata.TargetFiles
}

const payloadSize = 3*64<<10 + 1234 // four chunks, the last one short

func target(t testing.TB, data []byte, c *targets.Custom) *metadata.TargetFiles {
	t.Helper()
	raw, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return &metadata.TargetFiles{Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}, Custom: raw}
}

// newSealed publishes det 1.0.0 encrypted and installs it: kept encrypted
// with its envelope when atRest, else decrypted.
func newSealed(t testing.TB, atRest bool) *sealedVersion {
	t.Helper()
	return newSealedSize(t, atRest, payloadSize)
}

// newSealedSize is newSealed with a payload of size bytes.
func newSealedSize(t testing.TB, atRest bool, size int) *sealedVersion {
	t.Helper()
	v := &sealedVersion{state: t.TempDir(), device: newSoftKey(t), plain: make([]byte, size)}
	rand.Read(v.plain)
	v.p = devstate.Paths(v.state, "det")
	var err error
	if v.key, err = modelcrypt.NewContentKey(); err != nil {
		t.Fatal(err)
	}
	var ct bytes.Buffer
	n, sum, err := modelcrypt.EncryptStream(&ct, bytes.NewReader(v.plain), v.key.Recipient())
	if err != nil || n != int64(size) {
		t.Fatal(n, err)
	}
	v.cipher = ct.Bytes()
	m := &targets.Manifest{ModelID: "det", Version: "1.0.0", BuildTimestamp: "2026-12-01T00:00:00Z",
		Files: []targets.FileEntry{{Path: "model.bin"}}}
	mc := targets.ManifestCustom(m)
	mc.Files = []string{"model.bin"}
	mc.Encrypted = &targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: v.key.Recipient(), Delivery: targets.DeliveryDevice}
	mc.Critical = []string{targets.FieldEncrypted}
	manifest := []byte(`{"model_id":"det","version":"1.0.0"}`)
	pc := targets.PayloadCustom(m, "model.bin")
	pc.Plaintext = &targets.Plaintext{Length: n, SHA256: sum}
	pc.Critical = []string{targets.FieldPlaintext}
	v.signed = map[string]*metadata.TargetFiles{targets.ManifestName: target(t, manifest, mc), "model.bin": target(t, v.cipher, pc)}
	dir := v.p.Version("1.0.0")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, targets.ManifestName), manifest, 0o600)
	if !atRest {
		os.WriteFile(filepath.Join(dir, "model.bin"), v.plain, 0o600)
		return v
	}
	os.WriteFile(filepath.Join(dir, "model.bin"), v.cipher, 0o600)
	v.writeEnvelope(t, v.device, "1.0.0", v.key)
	return v
}

// writeEnvelope keeps an envelope for key's holder granting ck for version.
func (v *sealedVersion) writeEnvelope(t testing.TB, key softKey, version string, ck *modelcrypt.ContentKey) {
	t.Helper()
	rs, err := modelcrypt.Recipient(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	r, err := modelcrypt.ParseRecipient(rs)
	if err != nil {
		t.Fatal(err)
	}
	env, err := modelcrypt.SealEnvelope(r, modelcrypt.Grant{ModelID: "det", Version: version, ContentKey: ck.String()})
	if err != nil {
		t.Fatal(err)
	}
	path := devstate.EnvelopeFile(v.state, "det", "1.0.0")
	os.MkdirAll(filepath.Dir(path), 0o700)
	if err := os.WriteFile(path, env, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (v *sealedVersion) model() *Model {
	return New(safefs.New(v.state), "det", "1.0.0", v.p.Version("1.0.0"), v.signed)
}

func (v *sealedVersion) keys() *keyring.Keys { return &keyring.Keys{Device: v.device} }

func (v *sealedVersion) open(t testing.TB) *Model {
	t.Helper()
	m := v.model()
	if err := m.Unseal(v.state, v.keys(), time.Now()); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if codes.CodeOf(err) != code {
		t.Fatalf("error %v, want %s", err, code)
	}
}

// TestSealedRoundTrip: a version kept encrypted at rest reads back as its
// plaintext, sequentially (Read, io.Copy) and at random offsets, describes
// its files by their plaintext, and verifies by its ciphertext.
func TestSealedRoundTrip(t *testing.T) {
	t.Parallel()
	v := newSealed(t, true)
	m := v.open(t)
	if !m.EncryptedAtRest || m.Encryption().Delivery != targets.DeliveryDevice {
		t.Fatalf("form: at rest %v, encryption %+v", m.EncryptedAtRest, m.Encryption())
	}
	sum := sha256.Sum256(v.plain)
	if f := m.Files[1]; f.Name != "model.bin" || f.Length != payloadSize || f.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("file %+v", f)
	}
	r, err := m.Open("model.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, v.plain) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	ra := r.(io.ReaderAt)
	for _, off := range []int64{0, 1, 64<<10 - 3, 2 * 64 << 10, payloadSize - 10} {
		buf := make([]byte, 70000)
		n, err := ra.ReadAt(buf, off)
		want := v.plain[off:min(off+70000, payloadSize)]
		if !bytes.Equal(buf[:n], want) || (err != nil && err != io.EOF) || (n < len(buf) && err != io.EOF) {
			t.Errorf("ReadAt %d: %d bytes, %v", off, n, err)
		}
	}
	if n, err := ra.ReadAt(make([]byte, 1), payloadSize); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at the end: %d, %v", n, err)
	}
	if n, err := ra.ReadAt(make([]byte, 1), -1); n != 0 || err == nil || err == io.EOF {
		t.Errorf("ReadAt at -1: %d, %v", n, err)
	}
	r2, _ := m.Open("model.bin")
	var out bytes.Buffer
	if n, err := io.Copy(&out, r2); err != nil || n != payloadSize || !bytes.Equal(out.Bytes(), v.plain) {
		t.Errorf("io.Copy: %d, %v", n, err)
	}
	r2.Close()
	if err := m.Verify(t.Context()); err != nil {
		t.Errorf("Verify: %v", err)
	}
	// The manifest is plaintext in both forms.
	mr, err := m.Open(targets.ManifestName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(mr); err != nil {
		t.Errorf("manifest: %v", err)
	}
	mr.Close()
}

// TestDecryptedFormReadsPlaintext: the same version installed decrypted
// is checked against the signed plaintext, needs no key, and a changed
// byte is HASH_MISMATCH as for any version.
func TestDecryptedFormReadsPlaintext(t *testing.T) {
	t.Parallel()
	v := newSealed(t, false)
	m := v.model()
	if m.EncryptedAtRest {
		t.Fatal("decrypted version taken as kept encrypted")
	}
	if err := m.Unseal(v.state, &keyring.Keys{}, time.Now()); err != nil {
		t.Fatalf("Unseal of a decrypted version: %v", err)
	}
	r, err := m.Open("model.bin")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, v.plain) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	r.Close()
	if err := m.Verify(t.Context()); err != nil {
		t.Fatal(err)
	}
	flip(t, filepath.Join(v.p.Version("1.0.0"), "model.bin"), 100)
	wantCode(t, m.Verify(t.Context()), codes.HashMismatch)
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 1
	os.WriteFile(path, data, 0o600)
}

// TestSealedTampering: a flipped byte in the installed ciphertext fails
// the read that reaches its chunk (DECRYPT_FAILED), sequential or random,
// while other chunks still read; two chunks swapped fail alike; Verify
// finds both (HASH_MISMATCH); a truncated file is refused at Open.
func TestSealedTampering(t *testing.T) {
	t.Parallel()
	v := newSealed(t, true)
	path := filepath.Join(v.p.Version("1.0.0"), "model.bin")
	hdr := int64(len(v.cipher)) - payloadSize - 4*16 // header and nonce
	const enc = 64<<10 + 16
	flip(t, path, hdr+enc+100) // in the second chunk
	m := v.open(t)
	r, err := m.Open("model.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	wantCode(t, err, codes.DecryptFailed)
	if strings.Count(err.Error(), "DECRYPT_FAILED") != 1 {
		t.Errorf("message %q", err)
	}
	if len(got) > 64<<10 {
		t.Errorf("%d bytes returned before the damaged chunk failed", len(got))
	}
	if _, err := r.Read(make([]byte, 10)); codes.CodeOf(err) != codes.DecryptFailed {
		t.Errorf("a Read after the failure: %v", err)
	}
	ra := r.(io.ReaderAt)
	if _, err := ra.ReadAt(make([]byte, 10), 64<<10+5); codes.CodeOf(err) != codes.DecryptFailed {
		t.Errorf("ReadAt in the damaged chunk: %v", err)
	}
	if n, err := ra.ReadAt(make([]byte, 10), 2*64<<10); n != 10 || err != nil {
		t.Errorf("ReadAt in an intact chunk: %d, %v", n, err)
	}
	r.Close()
	wantCode(t, m.Verify(t.Context()), codes.HashMismatch)

	// Two chunks swapped.
	swapped := append([]byte(nil), v.cipher...)
	copy(swapped[hdr:hdr+enc], v.cipher[hdr+enc:hdr+2*enc])
	copy(swapped[hdr+enc:hdr+2*enc], v.cipher[hdr:hdr+enc])
	os.WriteFile(path, swapped, 0o600)
	r, err = m.Open("model.bin")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	wantCode(t, err, codes.DecryptFailed)
	r.Close()

	// Truncated by a chunk: not its signed length.
	os.WriteFile(path, v.cipher[:len(v.cipher)-enc], 0o600)
	_, err = m.Open("model.bin")
	wantCode(t, err, codes.HashMismatch)
	os.Remove(path)
	_, err = m.Open("model.bin")
	wantCode(t, err, codes.HashMismatch)
}

// TestSealedPlaintextHash: a ciphertext that decrypts under the content
// key but whose plaintext is not the signed one (a publisher that signed
// another plaintext) fails the read that reaches the end.
func TestSealedPlaintextHash(t *testing.T) {
	t.Parallel()
	v := newSealed(t, true)
	other := append([]byte(nil), v.plain...)
	other[7] ^= 1
	var ct bytes.Buffer
	if _, _, err := modelcrypt.EncryptStream(&ct, bytes.NewReader(other), v.key.Recipient()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(v.p.Version("1.0.0"), "model.bin"), ct.Bytes(), 0o600)
	m := v.open(t)
	r, err := m.Open("model.bin")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	wantCode(t, err, codes.DecryptFailed)
	r.Close()
}

// TestUnsealRefusals: no envelope is KEY_UNAVAILABLE, as is no device
// key; an envelope for another device, or one granting another
// version's key, is DECRYPT_FAILED; a file cannot be opened before the
// key is.
func TestUnsealRefusals(t *testing.T) {
	t.Parallel()
	v := newSealed(t, true)
	now := time.Now()
	m := v.model()
	_, err := m.Open("model.bin")
	wantCode(t, err, codes.KeyUnavailable)
	wantCode(t, m.Unseal(v.state, &keyring.Keys{}, now), codes.KeyUnavailable)
	wantCode(t, m.Unseal(v.state, &keyring.Keys{Device: newSoftKey(t)}, now), codes.DecryptFailed)
	// An envelope of another version, replayed under this version's name.
	other, _ := modelcrypt.NewContentKey()
	v.writeEnvelope(t, v.device, "0.9.0", other)
	wantCode(t, m.Unseal(v.state, &keyring.Keys{Device: v.device}, now), codes.DecryptFailed)
	// This version's name but another key than the signed one.
	v.writeEnvelope(t, v.device, "1.0.0", other)
	wantCode(t, m.Unseal(v.state, &keyring.Keys{Device: v.device}, now), codes.DecryptFailed)
	os.Remove(devstate.EnvelopeFile(v.state, "det", "1.0.0"))
	wantCode(t, m.Unseal(v.state, &keyring.Keys{Device: v.device}, now), codes.KeyUnavailable)
	if m.key != nil {
		t.Fatal("a refused envelope left a key")
	}
}

// TestEncryptedVersionWithoutPlaintext: a payload target of an encrypted
// version without its signed plaintext fails closed.
func TestEncryptedVersionWithoutPlaintext(t *testing.T) {
	t.Parallel()
	v := newSealed(t, true)
	m := targets.PayloadCustom(&targets.Manifest{ModelID: "det", Version: "1.0.0"}, "model.bin")
	v.signed["model.bin"] = target(t, v.cipher, m)
	mod := v.model()
	wantCode(t, mod.Unseal(v.state, &keyring.Keys{Device: v.device}, time.Now()), codes.ManifestInvalid)
	_, err := mod.Open("model.bin")
	wantCode(t, err, codes.ManifestInvalid)
	wantCode(t, mod.Verify(t.Context()), codes.ManifestInvalid)
}

// TestSealedReadFault: a file kept encrypted that cannot be read (here:
// closed under the reader; a disk error alike) fails with the
// filesystem's code, not DECRYPT_FAILED: nothing was found wrong with it.
func TestSealedReadFault(t *testing.T) {
	t.Parallel()
	v := newSealed(t, true)
	m := v.open(t)
	r, err := m.Open("model.bin")
	if err != nil {
		t.Fatal(err)
	}
	sr := r.(*SealedReader)
	sr.f.Close()
	if _, err := sr.ReadAt(make([]byte, 10), 64<<10+5); codes.CodeOf(err) == codes.DecryptFailed || err == nil {
		t.Errorf("ReadAt of a closed file: %v", err)
	}
	if _, err := io.ReadAll(sr); codes.CodeOf(err) == codes.DecryptFailed || err == nil {
		t.Errorf("Read of a closed file: %v", err)
	}
}
