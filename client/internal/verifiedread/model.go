package verifiedread

import (
	"context"
	"encoding/hex"
	"io"
	"path/filepath"
	"sort"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/client/internal/keyring"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Model is the active version of a model and its files, as the signed
// metadata verified when it was made describes them. Nothing in it comes
// from a file of the state directory trusted because it exists: the
// lengths and hashes are the signed ones, and each file is checked as it
// is read.
//
// An encrypted version is installed in one of two forms (client.json
// at_rest), which the installed files' sizes tell apart (a ciphertext is
// always longer than its plaintext) and which are each checked against
// their own signed values: decrypted (the payload files are the signed
// plaintexts), or kept encrypted at rest (they are the signed
// ciphertexts; Open returns a SealedReader once Unseal has opened the
// version's content key).
type Model struct {
	ModelID string `json:"model_id"`
	Version string `json:"version"`
	// Path is the version's directory.
	Path string `json:"path"`
	// Files lists the signed files, sorted by name, the manifest included,
	// with the length and hash of what Open returns (an encrypted file's
	// plaintext).
	Files []File `json:"files"`
	// EncryptedAtRest: the version is encrypted and kept so on disk.
	EncryptedAtRest bool `json:"encrypted_at_rest,omitempty"`

	sfs *safefs.FS
	// signed are the signed targets, installed what each installed file
	// must match (the signed target, or an encrypted file's plaintext).
	signed, installed map[string]*metadata.TargetFiles
	enc               *targets.Encryption
	plain             map[string]*targets.Plaintext
	formErr           error
	key               *modelcrypt.ContentKey
}

// File is one signed file of a version.
type File struct {
	Name   string `json:"name"`
	Length int64  `json:"length"`
	// SHA256 is the signed SHA-256 in hex ("" if the target lists another
	// algorithm only; the reader checks every one it supports).
	SHA256 string `json:"sha256,omitempty"`
}

// New describes the version at dir with its signed targets (the manifest
// target and the payload targets, as TUF signs them).
func New(sfs *safefs.FS, modelID, version, dir string, signed map[string]*metadata.TargetFiles) *Model {
	m := &Model{ModelID: modelID, Version: version, Path: dir, sfs: sfs, signed: signed, installed: signed}
	m.resolveForm()
	for name, tf := range m.installed {
		f := File{Name: name, Length: tf.Length, SHA256: hex.EncodeToString(tf.Hashes["sha256"])}
		if p := m.plain[name]; p != nil {
			f.Length, f.SHA256 = p.Length, p.SHA256
		}
		m.Files = append(m.Files, f)
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
	return m
}

// resolveForm reads the version's signed encryption fields and tells its
// installed form.
func (m *Model) resolveForm() {
	mt := m.signed[targets.ManifestName]
	if mt == nil {
		return
	}
	mc, err := targets.ParseCustom(targets.ManifestPath(m.ModelID, m.Version), mt.Custom)
	if err != nil || mc.Encrypted == nil {
		return
	}
	m.enc, m.plain = mc.Encrypted, map[string]*targets.Plaintext{}
	for name, tf := range m.signed {
		if name == targets.ManifestName {
			continue
		}
		p := targets.TargetPath(m.ModelID, m.Version, name)
		pc, err := targets.ParseCustom(p, tf.Custom)
		if err != nil || pc.Plaintext == nil {
			m.formErr = codes.Errorf(codes.ManifestInvalid, err, "%s of the encrypted %s %s has no signed plaintext", p, m.ModelID, m.Version)
			return
		}
		m.plain[name] = pc.Plaintext
		if fi, err := m.sfs.Lstat(filepath.Join(m.Path, name)); err == nil && fi.Size() == tf.Length {
			m.EncryptedAtRest = true
		}
	}
	if !m.EncryptedAtRest {
		m.installed = installed.PlainForm(m.signed, m.plain)
	}
}

// Encryption is the version's signed encryption (nil: not encrypted).
func (m *Model) Encryption() *targets.Encryption { return m.enc }

// Unseal opens the content key of a version kept encrypted at rest (a
// no-op for any other): the key envelope kept in the state directory
// stateDir (devstate.EnvelopeFile), opened with the key its signed
// delivery names, checked against the signed recipient and, for a
// released key, its expiry at now. A missing envelope or key is
// KEY_UNAVAILABLE, one that does not open DECRYPT_FAILED, a device or
// fleet key out of reach DEVICE_KEY_UNAVAILABLE. The key is held in
// memory only.
func (m *Model) Unseal(stateDir string, keys *keyring.Keys, now time.Time) error {
	if !m.EncryptedAtRest || m.formErr != nil {
		return m.formErr
	}
	env, err := devstate.ReadEnvelope(m.sfs, stateDir, m.ModelID, m.Version, modelcrypt.MaxEnvelopeSize)
	if err != nil {
		return err
	}
	key, err := keys.Open(env, m.enc, m.ModelID, m.Version, now)
	if err != nil {
		return codes.Errorf(codes.CodeOf(err), err, "%s %s", m.ModelID, m.Version)
	}
	m.key = key
	return nil
}

// Open opens one of the version's files for a verified read: an
// installed.Reader (one sequential read), or for a file kept encrypted a
// SealedReader (sequential or random access; it is an io.ReaderAt). A
// file that is missing, a link, not a regular file or not of its signed
// length fails HASH_MISMATCH here; a changed byte or a file that grows
// while it is read fails on the read that reaches its signed end (a
// changed chunk of an encrypted file: on the read that reaches it,
// DECRYPT_FAILED). A name the version does not sign is TARGET_NOT_FOUND.
func (m *Model) Open(name string) (io.ReadCloser, error) {
	if m.signed[name] == nil {
		return nil, codes.Errorf(codes.TargetNotFound, nil, "%s %s has no signed file %q", m.ModelID, m.Version, name)
	}
	if m.formErr != nil {
		return nil, m.formErr
	}
	path := filepath.Join(m.Path, name)
	if p := m.plain[name]; p != nil && m.EncryptedAtRest {
		if m.key == nil {
			return nil, codes.Errorf(codes.KeyUnavailable, nil, "%s %s is kept encrypted and its content key is not open", m.ModelID, m.Version)
		}
		return OpenSealed(m.sfs, path, m.signed[name], p, m.key)
	}
	r, err := installed.OpenReader(m.sfs, path, m.installed[name])
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Verify re-hashes every file: exactly the signed files, each a regular
// file with the length and hashes of its installed form (a version kept
// encrypted: the signed ciphertext, which needs no key), HASH_MISMATCH
// otherwise; CANCELLED or INTERRUPTED when ctx ends.
func (m *Model) Verify(ctx context.Context) error {
	if m.formErr != nil {
		return m.formErr
	}
	return installed.VerifyDir(ctx, m.sfs, m.Path, m.installed)
}
