package testrepo

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/spf13/afero"
)

// NewWithRootKeys runs a ceremony with n root keys, k of which must sign
// a root, and returns the repository (its online keys in Keys, as New
// does) and its root keys, for tests of key rotation and threshold
// signing. Root keys are slow to open (scrypt with 128 MiB each); they are
// decrypted in parallel.
func NewWithRootKeys(t testing.TB, n, k int) (*Repo, keys.MemKeyring) {
	t.Helper()
	base := t.TempDir()
	fs := afero.NewOsFs()
	kd := &keys.Dir{FS: fs, Path: filepath.Join(base, "keys"), Passphrase: func(string, bool) ([]byte, error) { return []byte(Passphrase), nil }}
	dir := filepath.Join(base, "repo")
	res, err := repo.Init(fs, dir, kd, repo.InitOptions{RootKeys: n, RootThreshold: k})
	if err != nil {
		t.Fatalf("testrepo: init: %v", err)
	}
	files, err := kd.List()
	if err != nil {
		t.Fatal(err)
	}
	online, root := keys.MemKeyring{}, keys.MemKeyring{}
	isRoot := map[string]bool{}
	for _, id := range res.RootKeyIDs {
		isRoot[id] = true
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(files))
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, err := f.Decrypt([]byte(Passphrase))
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if isRoot[key.ID()] {
				root.Add(key)
			} else {
				online.Add(key)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("testrepo: %v", err)
	}
	r, err := repo.Open(fs, dir)
	if err != nil {
		t.Fatal(err)
	}
	rootJSON, err := os.ReadFile(filepath.Join(dir, "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	return &Repo{Dir: dir, Keys: online, Root: rootJSON, R: r, fs: fs}, root
}
