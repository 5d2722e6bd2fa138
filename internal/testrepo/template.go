package testrepo

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/edgetuf/edgetuf/internal/testrepo/treecache"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/spf13/afero"
)

// templateKey says which ceremony a template repository comes from.
type templateKey struct {
	expiry       repo.Expiry
	customExpiry bool // false: the default lifetimes
	// rootKeys and rootThreshold, when rootKeys is not zero: that many root
	// keys and threshold, and the root keys decrypted for the tests.
	rootKeys, rootThreshold int
}

// ceremonyResult is what a template shares with its copies besides the
// repository directory. Never changed after the ceremony: copies get their
// own keyrings.
type ceremonyResult struct {
	online keys.MemKeyring // every key but the root keys
	root   keys.MemKeyring // the root keys, if the template key asked for them
	pinned []byte          // 1.root.json
}

var (
	templatesMu sync.Mutex
	templates   = map[templateKey]*treecache.Tree[ceremonyResult]{}
)

// templateFor returns the template of a kind of repository; it is built
// on first use.
func templateFor(k templateKey) *treecache.Tree[ceremonyResult] {
	templatesMu.Lock()
	defer templatesMu.Unlock()
	tr := templates[k]
	if tr == nil {
		tr = treecache.NewOnDisk(func(fs afero.Fs, dir string) (ceremonyResult, error) { return ceremony(fs, dir, k) })
		templates[k] = tr
	}
	return tr
}

// fromTemplate copies the template of k into t's temporary directory and
// opens it; the keyrings are the caller's (the keys in them are shared).
func fromTemplate(t testing.TB, k templateKey) (*Repo, keys.MemKeyring) {
	t.Helper()
	fs := afero.NewOsFs()
	dir := filepath.Join(t.TempDir(), "repo")
	res := templateFor(k).CopyTo(t, fs, dir)
	r, err := repo.Open(fs, dir)
	if err != nil {
		t.Fatalf("testrepo: %v", err)
	}
	return &Repo{Dir: dir, Keys: keys.MemKeyring{}.Add(values(res.online)...), Root: res.pinned, R: r, fs: fs},
		keys.MemKeyring{}.Add(values(res.root)...)
}

func values(kr keys.MemKeyring) []*keys.Key {
	out := make([]*keys.Key, 0, len(kr))
	for _, k := range kr {
		out = append(out, k)
	}
	return out
}

// ceremony runs mrepo init in dir, with its key directory beside it, and
// decrypts the keys the tests sign with: the online keys, and the root
// keys when k asks for root keys (root keys are slow to open, scrypt with
// 128 MiB each: they are decrypted in parallel).
func ceremony(fs afero.Fs, dir string, k templateKey) (ceremonyResult, error) {
	kd := &keys.Dir{FS: fs, Path: filepath.Join(filepath.Dir(dir), "keys"), Passphrase: func(string, bool) ([]byte, error) { return []byte(Passphrase), nil }}
	opts := repo.InitOptions{RootKeys: k.rootKeys, RootThreshold: k.rootThreshold}
	if k.customExpiry {
		exp := k.expiry
		opts.Expiry = &exp
	}
	done, err := repo.Init(fs, dir, kd, opts)
	if err != nil {
		return ceremonyResult{}, fmt.Errorf("testrepo: init: %w", err)
	}
	isRoot := map[string]bool{}
	for _, id := range done.RootKeyIDs {
		isRoot[id] = true
	}
	files, err := kd.List()
	if err != nil {
		return ceremonyResult{}, err
	}
	res := ceremonyResult{online: keys.MemKeyring{}, root: keys.MemKeyring{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(files))
	for i, f := range files {
		if isRoot[f.KeyID] && k.rootKeys == 0 {
			continue // publishing needs only the online keys
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, err := f.Decrypt([]byte(Passphrase))
			if err != nil {
				errs[i] = fmt.Errorf("testrepo: key %s: %w", f.Name, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if isRoot[key.ID()] {
				res.root.Add(key)
			} else {
				res.online.Add(key)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return ceremonyResult{}, err
		}
	}
	if res.pinned, err = afero.ReadFile(fs, filepath.Join(dir, "metadata", "1.root.json")); err != nil {
		return ceremonyResult{}, err
	}
	return res, nil
}
