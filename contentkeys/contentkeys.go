// Package contentkeys keeps, on the publishing side, the content key of
// every encrypted model version (docs/encryption.md): mrepo add-target
// --encrypt creates it, mrepo grant and mrepo keyserver wrap it for
// devices, and the next version's deltas decrypt the old payload with it.
//
// A content key is stored as KEYDIR/content/<model_id>/<version>.age: an
// age file encrypted with a passphrase (scrypt), mode 0600, in
// directories of mode 0700. A stored key is never overwritten: the
// ciphertext published under a version was made with it.
package contentkeys

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"filippo.io/age"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/fileperm"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// ScryptWorkFactor is the scrypt cost of a stored key (2^15, 32 MiB, as
// for the online signing keys, decrypted on every publication).
const ScryptWorkFactor = 15

// maxKeyFileSize bounds a stored key file.
const maxKeyFileSize = 4096

// ErrNotFound: no content key is stored for the version.
var ErrNotFound = errors.New("no content key stored")

// Store is the content key directory KEYDIR/content.
type Store struct {
	dir        string
	passphrase string
}

// Open returns the store under keysDir (mrepo's --keys directory),
// whose keys are encrypted with passphrase (not empty).
func Open(keysDir, passphrase string) (*Store, error) {
	if passphrase == "" {
		return nil, errors.New("content keys: an empty passphrase is refused")
	}
	return &Store{dir: filepath.Join(keysDir, "content"), passphrase: passphrase}, nil
}

// Path is where the key of modelID at version is stored.
func (s *Store) Path(modelID, version string) (string, error) {
	if err := targets.CheckModelID(modelID); err != nil {
		return "", err
	}
	if _, err := targets.ParseVersion(version); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, modelID, version+".age"), nil
}

// Get returns the stored key of modelID at version: ErrNotFound if there
// is none; an error if the file is readable by others, damaged, or the
// passphrase is wrong.
func (s *Store) Get(modelID, version string) (*modelcrypt.ContentKey, error) {
	p, err := s.Path(modelID, version)
	if err != nil {
		return nil, err
	}
	data, err := fileperm.ReadSecret(p, "content key", maxKeyFileSize, true)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w for %s %s (%s)", ErrNotFound, modelID, version, p)
	}
	if err != nil {
		return nil, err
	}
	id, err := age.NewScryptIdentity(s.passphrase)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		return nil, fmt.Errorf("content key %s: %v (wrong passphrase?)", p, err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxKeyFileSize))
	if err != nil {
		return nil, fmt.Errorf("content key %s: %v", p, err)
	}
	return modelcrypt.ParseContentKey(string(plain))
}

// Create generates and stores a new key for modelID at version; it fails
// if one is stored already (see Get).
func (s *Store) Create(modelID, version string) (*modelcrypt.ContentKey, error) {
	p, err := s.Path(modelID, version)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(p); err == nil {
		return nil, fmt.Errorf("a content key for %s %s is stored already (%s)", modelID, version, p)
	}
	k, err := modelcrypt.NewContentKey()
	if err != nil {
		return nil, err
	}
	r, err := age.NewScryptRecipient(s.passphrase)
	if err != nil {
		return nil, err
	}
	r.SetWorkFactor(ScryptWorkFactor)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, err
	}
	io.WriteString(w, k.String()+"\n")
	if err := w.Close(); err != nil {
		return nil, err
	}
	osfs := afero.NewOsFs()
	for _, d := range []string{s.dir, filepath.Dir(p)} {
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	if err := atomicfs.WriteFile(osfs, p, buf.Bytes(), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

// ForVersion returns the key to publish modelID at version with: the one
// stored for it, else a new one (Create). A stored key can only be left
// by a publication of the version that failed or was killed (a published
// version is never published again), whose ciphertexts were never
// signed. Before creating a key, the passphrase must open the stored key
// of previous (the model's newest encrypted version; "" for none) if
// there is one, so a mistyped passphrase does not start a second one.
func (s *Store) ForVersion(modelID, version, previous string) (*modelcrypt.ContentKey, error) {
	key, err := s.Get(modelID, version)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return key, err
	}
	if previous != "" {
		if _, err := s.Get(modelID, previous); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("the content key passphrase does not open the key of %s %s: %w", modelID, previous, err)
		}
	}
	return s.Create(modelID, version)
}
