package keys

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
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

// Key derivation strengths (sealed.go): online keys (targets, snapshot,
// timestamp), decrypted on every publication by CI and cron, use
// onlineParams (8 MiB, about 0.1 s) so that publishing fits a 64 MiB
// memory budget; offline keys (root), decrypted only in ceremonies,
// offlineParams (128 MiB). Both are at or above OWASP's minimum for
// scrypt; give online keys long random passphrases all the same.
func kdfParams(offline bool) scryptParams {
	if offline {
		return offlineParams
	}
	return onlineParams
}

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
	enc, err := seal(pemBytes, passphrase, kdfParams(k.Offline))
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

// ParseFile reads a key file's public part and checks its encrypted
// private key's form and parameters (parseSealed), without decrypting it.
// The key ID is recomputed from the public key, so a file cannot claim
// another key's ID.
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
	if _, err := parseSealed(f.Encrypted); err != nil {
		return nil, fmt.Errorf("key %s (%s): %w", f.Name, ShortID(f.KeyID), err)
	}
	return &f, nil
}

// Decrypt decrypts the private key and checks that it belongs to the
// public key the file declares. A file encrypted with more than the
// online keys' key derivation (offline parameters) gives an offline Key,
// so that writing it again (Dir.Reencrypt) keeps it as strong.
func (f *File) Decrypt(passphrase []byte) (*Key, error) {
	sealed, err := parseSealed(f.Encrypted)
	if err != nil {
		return nil, fmt.Errorf("key %s (%s): %w", f.Name, ShortID(f.KeyID), err)
	}
	pemBytes, err := sealed.open(passphrase)
	if err != nil {
		return nil, fmt.Errorf("key %s (%s): %w", f.Name, ShortID(f.KeyID), err)
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
	k.Offline = sealed.KDF.Params.memory() > legacyParams.memory()
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
