package testrepo

import (
	"testing"

	"github.com/edgetuf/edgetuf/keys"
)

// NewWithRootKeys returns a repository made by a ceremony with n root
// keys, k of which must sign a root (its online keys in Keys, as New
// does), and its root keys, for tests of key rotation and threshold
// signing. Like New, it is a copy of a template made once per test process
// for each (n, k); the keyrings are the caller's own copies.
func NewWithRootKeys(t testing.TB, n, k int) (*Repo, keys.MemKeyring) {
	t.Helper()
	return fromTemplate(t, templateKey{rootKeys: n, rootThreshold: k})
}
