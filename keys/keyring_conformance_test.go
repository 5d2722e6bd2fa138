package keys_test

// Each keyring implementation of this package runs the keys.Keyring
// conformance suite (internal/keyringtest) through its own constructor.
// What only one backend can do stays in its own tests (keys_test.go,
// pkcs11_test.go, kms_test.go).

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/keyringtest"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// testPassphrase is a test-only value; no real secret is used in tests.
var testPassphrase = []byte("test-only-passphrase")

func bothTypes() []keys.Type { return []keys.Type{keys.Ed25519, keys.ECDSAP256} }

// reopenDir opens a key directory again, as the next mrepo command would.
func reopenDir(t *testing.T, kr keys.Keyring) keys.Keyring {
	d := kr.(*keys.Dir)
	return &keys.Dir{FS: d.FS, Path: d.Path, Passphrase: d.Passphrase, PIN: d.PIN}
}

// refDir returns an empty key directory for references to keys in a
// backend (PKCS#11, KMS), and registers in it the key ref names, generating
// it there as typ.
func refDir(t *testing.T, ref string, typ keys.Type) (keys.Keyring, *metadata.Key) {
	t.Helper()
	kd := &keys.Dir{FS: afero.NewOsFs(), Path: filepath.Join(t.TempDir(), "keys")}
	r, err := keys.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kd.AddRef("suite", r, typ)
	if err != nil {
		t.Fatalf("generating %s: %v", ref, err)
	}
	return kd, k.Public
}

func TestMemKeyringConformance(t *testing.T) {
	t.Parallel()
	keyringtest.Run(t, keyringtest.Backend{
		Types:    bothTypes(),
		Parallel: true,
		New: func(t *testing.T, typ keys.Type) (keys.Keyring, *metadata.Key) {
			k, err := keys.Generate("suite", typ)
			if err != nil {
				t.Fatal(err)
			}
			return keys.MemKeyring{}.Add(k), k.Public
		},
	})
}

// TestDirConformance: encrypted key files in a key directory.
func TestDirConformance(t *testing.T) {
	t.Parallel()
	keyringtest.Run(t, keyringtest.Backend{
		Types:    bothTypes(),
		Parallel: true,
		New: func(t *testing.T, typ keys.Type) (keys.Keyring, *metadata.Key) {
			k, err := keys.Generate("suite", typ)
			if err != nil {
				t.Fatal(err)
			}
			kd := &keys.Dir{FS: afero.NewOsFs(), Path: filepath.Join(t.TempDir(), "keys"),
				Passphrase: func(string, bool) ([]byte, error) { return testPassphrase, nil }}
			if err := kd.Write(k, testPassphrase); err != nil {
				t.Fatal(err)
			}
			return kd, k.Public
		},
		Reopen: reopenDir,
	})
}

// TestFileKeyringConformance: one encrypted key file outside a key
// directory (keys.OpenKeyFile, mrepo sign --key KEYFILE).
func TestFileKeyringConformance(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	paths := map[keys.Keyring]string{} // each keyring's key file, for Reopen
	pass := func(string, bool) ([]byte, error) { return testPassphrase, nil }
	keyringtest.Run(t, keyringtest.Backend{
		Types:    bothTypes(),
		Parallel: true,
		New: func(t *testing.T, typ keys.Type) (keys.Keyring, *metadata.Key) {
			k, err := keys.Generate("suite", typ)
			if err != nil {
				t.Fatal(err)
			}
			data, err := keys.EncodeFile(k, testPassphrase)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "suite"+keys.KeySuffix)
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			fk, err := keys.OpenKeyFile(p, pass)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			paths[fk] = p
			mu.Unlock()
			return fk, k.Public
		},
		Reopen: func(t *testing.T, kr keys.Keyring) keys.Keyring {
			mu.Lock()
			p := paths[kr]
			mu.Unlock()
			fk, err := keys.OpenKeyFile(p, pass)
			if err != nil {
				t.Fatal(err)
			}
			return fk
		},
	})
}

// TestAWSKMSConformance: keys in local-kms, referenced from a key
// directory. AWS KMS keys are ECDSA P-256 only.
func TestAWSKMSConformance(t *testing.T) {
	backendtest.LocalKMS(t)
	var n atomic.Int32
	keyringtest.Run(t, keyringtest.Backend{
		Types: []keys.Type{keys.ECDSAP256},
		New: func(t *testing.T, typ keys.Type) (keys.Keyring, *metadata.Key) {
			return refDir(t, fmt.Sprintf("awskms:///alias/edgetuf-suite-%d", n.Add(1)), typ)
		},
		Reopen: reopenDir,
	})
}
