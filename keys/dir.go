package keys

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/fileperm"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/afero"
)

// Keyring hands out signers by TUF key ID. ErrKeyNotFound (wrapped) means
// the key is simply not held here, which callers may tolerate when other
// holders supply the remaining signatures. A Keyring, and each signer it
// returns, is safe for concurrent use. internal/keyringtest is the
// conformance suite every implementation runs.
type Keyring interface {
	Signer(keyID string) (signature.Signer, error)
}

// ErrKeyNotFound is returned by a Keyring that does not hold a key.
var ErrKeyNotFound = errors.New("key not found")

// PassphraseFunc supplies a passphrase. purpose says what it is for
// ("online keys", "root key root-1"); confirm asks for it twice when new.
type PassphraseFunc func(purpose string, confirm bool) ([]byte, error)

// Dir is a directory of key files: NAME.key (encrypted private key, mode
// 0600) and NAME.pub (the public key as a TUF key object).
type Dir struct {
	FS         afero.Fs
	Path       string
	Passphrase PassphraseFunc
	// PIN asks for a PKCS#11 user PIN for keys that NAME.ref files
	// reference (see ref.go), when the reference names no pin-source and
	// EDGETUF_PKCS11_PIN is not set; nil: no prompt.
	PIN PassphraseFunc

	// mu serializes decryption, so that a Dir is safe for concurrent use
	// (as every Keyring is) and goroutines that need keys at once ask for
	// a passphrase once.
	mu    sync.Mutex
	tried [][]byte // passphrases that have opened a key before
}

// KeySuffix and PubSuffix are the extensions of key files.
const (
	KeySuffix = ".key"
	PubSuffix = ".pub"
)

// checkDir refuses a key directory that group or others may write: they
// could plant a NAME.ref that makes mrepo load a PKCS#11 module of their
// choice, or swap a key. A directory that does not exist passes (the
// caller creates it 0700, or reports it missing).
func (d *Dir) checkDir() error {
	fi, err := d.FS.Stat(d.Path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return fileperm.NotWritable(fi, d.Path, "key directory")
}

// checkSecret refuses a private key file that group or others may read
// or write, as ssh does, before it is read.
func checkSecret(fs afero.Fs, p string) error {
	fi, err := fs.Stat(p)
	if err != nil {
		return err
	}
	return fileperm.Secret(fi, p, "private key file")
}

// checkTrusted refuses a public key or reference file that group or
// others may write, before it is read.
func checkTrusted(fs afero.Fs, p, what string) error {
	fi, err := fs.Stat(p)
	if err != nil {
		return err
	}
	return fileperm.NotWritable(fi, p, what)
}

// Write stores k encrypted with passphrase. It never overwrites a file.
func (d *Dir) Write(k *Key, passphrase []byte) error {
	if err := d.checkDir(); err != nil {
		return err
	}
	data, err := EncodeFile(k, passphrase)
	if err != nil {
		return err
	}
	pub, err := EncodePublic(k.Public)
	if err != nil {
		return err
	}
	if err := d.FS.MkdirAll(d.Path, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{{k.Name + KeySuffix, data, 0o600}, {k.Name + PubSuffix, pub, 0o644}} {
		p := filepath.Join(d.Path, f.name)
		if _, err := d.FS.Stat(p); err == nil {
			return fmt.Errorf("%s already exists: refusing to overwrite a key", p)
		}
		if err := atomicfs.WriteFile(d.FS, p, f.data, f.perm); err != nil {
			return err
		}
	}
	return nil
}

// List parses every NAME.key file of the directory, sorted by name. The
// directory and each key file must be private (checkDir, checkSecret).
func (d *Dir) List() ([]*File, error) {
	if err := d.checkDir(); err != nil {
		return nil, err
	}
	entries, err := afero.ReadDir(d.FS, d.Path)
	if err != nil {
		return nil, err
	}
	var out []*File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), KeySuffix) || atomicfs.IsTemp(e.Name()) {
			continue
		}
		p := filepath.Join(d.Path, e.Name())
		if err := checkSecret(d.FS, p); err != nil {
			return nil, err
		}
		data, err := readSmall(d.FS, p, maxKeyFileSize)
		if err != nil {
			return nil, err
		}
		f, err := ParseFile(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Load finds and decrypts the key with the given ID. Passphrases that
// opened earlier keys are tried first, so one passphrase for many keys is
// asked for once.
func (d *Dir) Load(keyID string) (*Key, error) {
	files, err := d.List()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.KeyID != keyID {
			continue
		}
		return d.decrypt(f)
	}
	return nil, fmt.Errorf("key %s in %s: %w", ShortID(keyID), d.Path, ErrKeyNotFound)
}

// decrypt opens a key file with a passphrase that opened an earlier key,
// or else asks for one.
func (d *Dir) decrypt(f *File) (*Key, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.tried {
		if k, err := f.Decrypt(p); err == nil {
			return k, nil
		}
	}
	if d.Passphrase == nil {
		return nil, fmt.Errorf("key %s (%s) needs a passphrase and none was given", f.Name, ShortID(f.KeyID))
	}
	p, err := d.Passphrase(fmt.Sprintf("key %s (%s)", f.Name, ShortID(f.KeyID)), false)
	if err != nil {
		return nil, err
	}
	k, err := f.Decrypt(p)
	if err != nil {
		return nil, err
	}
	if !d.known(p) {
		d.tried = append(d.tried, p)
	}
	return k, nil
}

func (d *Dir) known(p []byte) bool {
	for _, q := range d.tried {
		if bytes.Equal(p, q) {
			return true
		}
	}
	return false
}

// Signer implements Keyring. A key that a NAME.ref references (a PKCS#11
// or KMS key, see ref.go) signs through its backend; any other is
// decrypted from its NAME.key.
func (d *Dir) Signer(keyID string) (signature.Signer, error) {
	if s, found, err := d.refSigner(keyID); found {
		return s, err
	}
	k, err := d.Load(keyID)
	if err != nil {
		return nil, err
	}
	return k.Signer()
}

// MemKeyring is a Keyring of keys held in memory, for tests and for tools
// that have just generated their keys.
type MemKeyring map[string]*Key

// Add puts keys into the ring.
func (m MemKeyring) Add(keys ...*Key) MemKeyring {
	for _, k := range keys {
		m[k.ID()] = k
	}
	return m
}

// Signer implements Keyring.
func (m MemKeyring) Signer(keyID string) (signature.Signer, error) {
	k, ok := m[keyID]
	if !ok {
		return nil, fmt.Errorf("key %s: %w", ShortID(keyID), ErrKeyNotFound)
	}
	return k.Signer()
}
