package devicekey

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/fileperm"
	"github.com/spf13/afero"
)

// maxKeyFile bounds what is read of a key file or TPM blob: both are a
// few hundred bytes.
const maxKeyFile = 16 << 10

// fileKey is a software key: the private key is in memory, read from a
// file that only its owner may read. It is the fallback for devices
// without a TPM or token; anyone who can read the state directory as its
// owner (or root) can copy it.
type fileKey struct{ priv *ecdh.PrivateKey }

func (k fileKey) Public() *ecdh.PublicKey { return k.priv.PublicKey() }

func (k fileKey) ECDH(remote *ecdh.PublicKey) ([]byte, error) {
	if err := CheckRemote(remote); err != nil {
		return nil, err
	}
	return k.priv.ECDH(remote)
}

func openFile(path string) (Key, error) {
	data, err := fileperm.ReadSecret(path, "device key", maxKeyFile, true)
	if err != nil {
		return nil, err
	}
	priv, err := ParseFileKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return fileKey{priv}, nil
}

func createFile(path string, replace bool) (Key, error) {
	if _, err := os.Lstat(path); err == nil && !replace {
		return nil, errExists("file:"+path, path)
	}
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	// A directory made for the key is the owner's only, as the state
	// directory's are.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := atomicfs.WriteFile(afero.NewOsFs(), path, data, 0o600); err != nil {
		return nil, err
	}
	return fileKey{priv}, nil
}

// ParseFileKey parses a file backend's key: one PEM "PRIVATE KEY" block
// (PKCS#8) holding an EC key on P-256, and nothing else.
func ParseFileKey(data []byte) (*ecdh.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM PRIVATE KEY (PKCS#8) block")
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("PEM block with headers (an encrypted key?)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an EC key on P-256", k)
	}
	priv, err := ec.ECDH()
	if err != nil {
		return nil, err
	}
	if priv.Curve() != ecdh.P256() {
		return nil, errors.New("an EC key not on P-256")
	}
	return priv, nil
}
