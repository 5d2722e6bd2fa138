package keys

import (
	"fmt"
	"sync"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/afero"
)

// FileKeyring is a Keyring of one encrypted key file (NAME.key) outside
// any key directory: what a key holder signs with on an air-gapped
// machine (mrepo sign --key KEYFILE). The key is decrypted on first use,
// asking for its passphrase then; the decrypted key is kept for the
// keyring's life. It is safe for concurrent use: goroutines that need the
// key at once wait for one decryption (one passphrase prompt).
type FileKeyring struct {
	file *File
	pass PassphraseFunc

	// mu guards key: Signer decrypts lazily, and a failed decryption (a
	// wrong passphrase) leaves key nil so that the next call asks again.
	mu  sync.Mutex
	key *Key
}

// OpenKeyFile opens the key file at path (on the OS file system) as a
// FileKeyring whose passphrase, when first needed, comes from pass (nil:
// signing fails, as with a Dir without one). As in
// a key directory (Dir), a file that group or others may read or write is
// refused before it is read (fileperm.ErrInsecure), and a file larger than
// a key file can be is refused. Nothing is decrypted yet.
func OpenKeyFile(path string, pass PassphraseFunc) (*FileKeyring, error) {
	f, err := readKeyFile(afero.NewOsFs(), path)
	if err != nil {
		return nil, err
	}
	return &FileKeyring{file: f, pass: pass}, nil
}

// readKeyFile reads and parses the key file at p, refusing one that group
// or others may read or write before reading it.
func readKeyFile(fs afero.Fs, p string) (*File, error) {
	if err := checkSecret(fs, p); err != nil {
		return nil, err
	}
	data, err := readSmall(fs, p, maxKeyFileSize)
	if err != nil {
		return nil, err
	}
	f, err := ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	return f, nil
}

// KeyID is the TUF key ID of the file's key (from its clear public part).
func (k *FileKeyring) KeyID() string { return k.file.KeyID }

// Name is the key's name as recorded in the file.
func (k *FileKeyring) Name() string { return k.file.Name }

// Signer implements Keyring. Any key ID but the file's is refused with
// ErrKeyNotFound, without asking for the passphrase.
func (k *FileKeyring) Signer(id string) (signature.Signer, error) {
	if id != k.file.KeyID {
		return nil, fmt.Errorf("key %s: %w", ShortID(id), ErrKeyNotFound)
	}
	key, err := k.decrypted()
	if err != nil {
		return nil, err
	}
	return key.Signer()
}

// decrypted returns the decrypted key, decrypting it on the first call
// (or the first since a failed one).
func (k *FileKeyring) decrypted() (*Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	if k.pass == nil {
		return nil, fmt.Errorf("key %s (%s) needs a passphrase and none was given", k.file.Name, ShortID(k.file.KeyID))
	}
	p, err := k.pass(fmt.Sprintf("key %s (%s)", k.file.Name, ShortID(k.file.KeyID)), false)
	if err != nil {
		return nil, err
	}
	key, err := k.file.Decrypt(p)
	if err != nil {
		return nil, err
	}
	k.key = key
	return key, nil
}
