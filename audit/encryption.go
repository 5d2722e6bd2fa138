package audit

import (
	"encoding/hex"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// Encrypted versions (docs/encryption.md): payload and delta targets are
// age ciphertexts, whose plaintext length and SHA-256 are signed in their
// custom metadata; the manifest lists plaintexts. The auditor holds no
// content key: it checks that the signed fields agree with each other and
// that the key envelopes beside a version are well-formed, not that a
// ciphertext decrypts.

// fileID is what a device installs for a payload file: its plaintext
// (the target itself when the version is not encrypted).
type fileID struct {
	path   string
	what   string // "target" or "plaintext"
	length int64
	sha256 string
}

// installed returns the identity of payload file name as installed.
func (mv *modelVersion) installed(name string) (fileID, bool) {
	tf := mv.payloads[name]
	if tf == nil {
		return fileID{}, false
	}
	if pt := mv.plain[name]; pt != nil {
		return fileID{path: tf.Path, what: "plaintext", length: pt.Length, sha256: pt.SHA256}, true
	}
	return fileID{path: tf.Path, what: "target", length: tf.Length, sha256: hex.EncodeToString(tf.Hashes["sha256"])}, true
}

// checkEncryption checks that a version is encrypted all through or not
// at all: an encrypted version's recipient parses and every payload and
// patch has its plaintext field; a plaintext version has none, and no
// patch from an encrypted base (a plaintext patch reveals its base: its
// XOR and SUB regions are new^old and new-old, and the new file is
// public).
func (v *verifier) checkEncryption(mv *modelVersion, models map[string]*modelVersion) {
	if mv.manifest == nil {
		return
	}
	enc := mv.manifest.Encrypted
	if enc != nil {
		if err := modelcrypt.CheckRecipient(enc.Recipient); err != nil {
			v.problem(EncryptionInvalid, "", mv.manifestPath, "%v", err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(mv.payloads)) {
		has := mv.plain[name] != nil
		if enc != nil && !has {
			v.problem(EncryptionInvalid, "", mv.payloads[name].Path, "payload of an encrypted version without its plaintext length and SHA-256")
		}
		if enc == nil && has {
			v.problem(EncryptionInvalid, "", mv.payloads[name].Path, "plaintext field on a payload of a version that is not encrypted")
		}
	}
	for _, p := range slices.Sorted(maps.Keys(mv.deltas)) {
		has := mv.deltas[p].custom.Plaintext != nil
		if enc != nil && !has {
			v.problem(EncryptionInvalid, "", p, "patch of an encrypted version without its plaintext length and SHA-256")
		}
		if enc == nil && has {
			v.problem(EncryptionInvalid, "", p, "plaintext field on a patch of a version that is not encrypted")
		}
		c := mv.deltas[p].custom
		if base := models[targets.TargetDir(c.ModelID, c.BaseVersion)]; enc == nil && !has && base != nil && base.manifest != nil && base.manifest.Encrypted != nil {
			v.problem(EncryptionInvalid, "", p, "plaintext patch from the encrypted version %s: it reveals that version's plaintext", c.BaseVersion)
		}
	}
}

// checkEnvelopes checks the key envelope directories on disk
// (targets.EnvelopeDir) of published versions: they belong to versions
// encrypted for delivery by envelopes (fleet or device), and hold only
// regular files
// named <64 lowercase hex>.age of at most modelcrypt.MaxEnvelopeSize
// bytes. Hidden files (a grant's temporary files) are skipped: the
// server never serves them.
func (v *verifier) checkEnvelopes(models map[string]*modelVersion) {
	root := filepath.Join(v.dir, repofiles.TargetsDir, targets.ModelsDir)
	ids, _ := afero.ReadDir(v.fs, root)
	for _, id := range ids {
		if !id.IsDir() {
			continue
		}
		versions, _ := afero.ReadDir(v.fs, filepath.Join(root, id.Name()))
		for _, ver := range versions {
			mv := models[targets.TargetDir(id.Name(), ver.Name())]
			if mv == nil || mv.manifest == nil {
				// Not published: left by a publication that failed or was
				// killed before it signed anything, like its target
				// files; no device asks for them.
				continue
			}
			dir := targets.EnvelopeDir(id.Name(), ver.Name())
			local := filepath.Join(v.dir, repofiles.TargetsDir, filepath.FromSlash(dir))
			fi, err := lstat(v.fs, local)
			if err != nil {
				continue
			}
			if !fi.IsDir() {
				v.problem(EnvelopeInvalid, "", dir, "not a directory")
				continue
			}
			v.checkEnvelopeDir(dir, local, mv)
		}
	}
}

func (v *verifier) checkEnvelopeDir(dir, local string, mv *modelVersion) {
	entries, err := afero.ReadDir(v.fs, local)
	if err != nil {
		v.problem(EnvelopeInvalid, "", dir, "%v", err)
		return
	}
	enc := mv.manifest.Encrypted
	switch {
	case enc == nil && len(entries) > 0:
		v.problem(EnvelopeInvalid, "", dir, "key envelopes beside a version that is not published encrypted")
		return
	case enc != nil && enc.Delivery == targets.DeliveryKeyServer && len(entries) > 0:
		v.problem(EnvelopeInvalid, "", dir, "key envelopes beside a version delivered by the key service")
		return
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue // a grant's temporary file; never served
		}
		p := dir + "/" + name
		switch {
		case !e.Mode().IsRegular():
			v.problem(EnvelopeInvalid, "", p, "not a regular file")
		case !modelcrypt.IsEnvelopeName(name):
			v.problem(EnvelopeInvalid, "", p, "not named <64 lowercase hex>.age")
		case e.Size() > modelcrypt.MaxEnvelopeSize:
			v.problem(EnvelopeInvalid, "", p, "%d bytes, over the %d-byte limit devices read", e.Size(), modelcrypt.MaxEnvelopeSize)
		case !strings.HasPrefix(readHead(v.fs, filepath.Join(local, name)), "age-encryption.org/v1\n"):
			v.problem(EnvelopeInvalid, "", p, "not an age file")
		}
	}
}

// readHead returns the first bytes of a file ("" if unreadable).
func readHead(fs afero.Fs, p string) string {
	f, err := fs.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, 32)
	n, _ := f.Read(buf)
	return string(buf[:n])
}

// lstat is Lstat where the filesystem has it.
func lstat(fs afero.Fs, p string) (os.FileInfo, error) {
	if l, ok := fs.(afero.Lstater); ok {
		fi, _, err := l.LstatIfPossible(p)
		return fi, err
	}
	return fs.Stat(p)
}
