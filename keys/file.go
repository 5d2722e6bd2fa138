package keys

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// fileFormat identifies a private key file written by this package.
const fileFormat = "edgetuf-private-key-v1"

// maxKeyFileSize bounds what ParseFile reads.
const maxKeyFileSize = 64 << 10

// ErrWrongPassphrase is returned when a key file does not decrypt.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// File is a parsed private key file whose private part is still encrypted.
type File struct {
	Format    string          `json:"format"`
	Name      string          `json:"name"`
	KeyID     string          `json:"keyid"`
	Public    *metadata.Key   `json:"public"`
	Encrypted json.RawMessage `json:"encrypted_pkcs8"`
}

// Key derivation strengths. scrypt's memory is 128*r*N bytes: online keys
// (targets, snapshot, timestamp), decrypted on every publication by CI and
// cron, use N=2^15 (32 MiB, tens of milliseconds) so that publishing fits a
// 64 MiB memory budget; give them long random passphrases. Offline keys
// (root), decrypted only in ceremonies, use N=2^17 (128 MiB), the OWASP
// recommendation.
const (
	onlineKDF  = encrypted.Legacy
	offlineKDF = encrypted.OWASP
)

// EncodeFile encrypts k's private key with passphrase and returns the key
// file's bytes.
func EncodeFile(k *Key, passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("refusing to encrypt a key with an empty passphrase")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, err
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	kdf := onlineKDF
	if k.Offline {
		kdf = offlineKDF
	}
	enc, err := encrypted.EncryptWithCustomKDFParameters(pemBytes, passphrase, kdf)
	if err != nil {
		return nil, err
	}
	f := File{Format: fileFormat, Name: k.Name, KeyID: k.ID(), Public: k.Public, Encrypted: enc}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseFile reads a key file's public part. The key ID is recomputed from
// the public key, so a file cannot claim another key's ID.
func ParseFile(data []byte) (*File, error) {
	if len(data) > maxKeyFileSize {
		return nil, errors.New("key file too large")
	}
	var f File
	if err := jsonlimit.Unmarshal(data, &f, maxKeyFileSize); err != nil {
		return nil, fmt.Errorf("not a key file: %v", err)
	}
	if f.Format != fileFormat {
		return nil, fmt.Errorf("not a key file: format %q, want %q", f.Format, fileFormat)
	}
	if f.Public == nil || len(f.Encrypted) == 0 {
		return nil, errors.New("key file lacks its public key or encrypted private key")
	}
	if _, err := publicKey(f.Public); err != nil {
		return nil, fmt.Errorf("key file public key: %v", err)
	}
	id, err := f.Public.ID()
	if err != nil {
		return nil, err
	}
	if id != f.KeyID {
		return nil, fmt.Errorf("key file claims key ID %s but its public key has ID %s", ShortID(f.KeyID), ShortID(id))
	}
	return &f, nil
}

// Decrypt decrypts the private key and checks that it belongs to the
// public key the file declares.
func (f *File) Decrypt(passphrase []byte) (*Key, error) {
	// scrypt allocates 32-128 MiB at once. Collect the caller's garbage and
	// hand its pages back to the OS first, so that the block does not come
	// on top of them (a publication has just parsed its hash bins), and
	// hand the block back afterwards, before the caller streams gigabytes
	// within a small budget or decrypts its next key.
	debug.FreeOSMemory()
	pemBytes, err := encrypted.Decrypt(f.Encrypted, passphrase)
	debug.FreeOSMemory()
	if err != nil {
		return nil, fmt.Errorf("key %s (%s): %w", f.Name, ShortID(f.KeyID), ErrWrongPassphrase)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("key %s: decrypted data is not a PKCS#8 PEM block", f.Name)
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key %s: %v", f.Name, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key %s: unsupported private key type %T", f.Name, priv)
	}
	k, err := FromPrivate(f.Name, signer)
	if err != nil {
		return nil, err
	}
	if k.ID() != f.KeyID {
		return nil, fmt.Errorf("key %s: private key does not match the public key in the file", f.Name)
	}
	return k, nil
}

// EncodePublic returns a public key file: the TUF key object as JSON.
func EncodePublic(pub *metadata.Key) ([]byte, error) {
	b, err := json.MarshalIndent(pub, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParsePublic reads a public key file (a TUF key object) and validates it.
func ParsePublic(data []byte) (*metadata.Key, error) {
	if len(data) > maxKeyFileSize {
		return nil, errors.New("public key file too large")
	}
	var k metadata.Key
	if err := jsonlimit.Unmarshal(data, &k, maxKeyFileSize); err != nil {
		return nil, fmt.Errorf("not a TUF public key: %v", err)
	}
	if _, err := publicKey(&k); err != nil {
		return nil, fmt.Errorf("not a usable TUF public key: %v", err)
	}
	return &k, nil
}

// ReadPublic reads a public key from a NAME.pub file (a TUF key object)
// or from the clear public part of a NAME.key file (no passphrase).
func ReadPublic(fs afero.Fs, name string) (*metadata.Key, error) {
	data, err := readSmall(fs, name, maxKeyFileSize)
	if err != nil {
		return nil, err
	}
	if k, err := ParsePublic(data); err == nil {
		return k, nil
	}
	f, err := ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: neither a public key (NAME.pub) nor a key file (NAME.key)", name)
	}
	return f.Public, nil
}
