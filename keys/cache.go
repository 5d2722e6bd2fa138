package keys

import (
	"sync"

	"github.com/sigstore/sigstore/pkg/signature"
)

// Cache is a Keyring that asks another for each key's signer once and
// keeps it: a key behind a slow KDF (a passphrase-encrypted key file) is
// decrypted once per process, so that mrepo, running a publication again
// after a conflict with another publisher, signs at once. Failures are
// not kept (a wrong passphrase may be typed again).
type Cache struct {
	kr      Keyring
	mu      sync.Mutex
	signers map[string]signature.Signer
}

// NewCache returns a Cache in front of kr.
func NewCache(kr Keyring) *Cache { return &Cache{kr: kr, signers: map[string]signature.Signer{}} }

// Signer implements Keyring.
func (c *Cache) Signer(keyID string) (signature.Signer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.signers[keyID]; s != nil {
		return s, nil
	}
	s, err := c.kr.Signer(keyID)
	if err == nil {
		c.signers[keyID] = s
	}
	return s, err
}
