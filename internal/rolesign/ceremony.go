package rolesign

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/internal/repoconfig"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// The init ceremony's keys: which are generated, under which passphrases,
// and the first root that lists them. Writing the repository's first
// metadata is the writer's job (repo.Init).

// InitOptions configure the key ceremony.
type InitOptions struct {
	// RootKeys is how many root keys to generate (default 1), RootThreshold
	// how many of them must sign a root (default 1).
	RootKeys      int
	RootThreshold int
	// KeyType is the algorithm of every generated key (default ed25519).
	KeyType keys.Type
	// Expiry overrides repoconfig.DefaultExpiry.
	Expiry *repoconfig.Expiry
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// KeyInfo names one generated key.
type KeyInfo struct {
	Role  string `json:"role"`
	Name  string `json:"name"`
	KeyID string `json:"keyid"`
}

// InitResult is what a ceremony produced. RootSHA256 is the digest of
// metadata/1.root.json: the value to pin in device images.
type InitResult struct {
	Repository    string    `json:"repository"`
	RootFile      string    `json:"root_file"`
	RootSHA256    string    `json:"root_sha256"`
	RootKeyIDs    []string  `json:"root_keyids"`
	RootThreshold int       `json:"root_threshold"`
	Keys          []KeyInfo `json:"keys"`
}

// WithDefaults fills in the defaults and returns the expiry durations to
// use.
func (opts *InitOptions) WithDefaults() repoconfig.Expiry {
	if opts.RootKeys == 0 {
		opts.RootKeys = 1
	}
	if opts.RootThreshold == 0 {
		opts.RootThreshold = 1
	}
	if opts.KeyType == "" {
		opts.KeyType = keys.Ed25519
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Expiry != nil {
		return *opts.Expiry
	}
	return repoconfig.DefaultExpiry
}

// ValidateInitOptions checks ceremony options without touching anything,
// so a command line can report bad options as usage errors.
func ValidateInitOptions(opts InitOptions) error {
	exp := repoconfig.DefaultExpiry
	if opts.Expiry != nil {
		exp = *opts.Expiry
	}
	return opts.Validate(exp)
}

// Validate checks the options (with defaults filled in) and exp.
func (opts InitOptions) Validate(exp repoconfig.Expiry) error {
	if opts.RootKeys < 1 || opts.RootKeys > 32 {
		return fmt.Errorf("root keys: %d is not between 1 and 32", opts.RootKeys)
	}
	if opts.RootThreshold < 1 || opts.RootThreshold > opts.RootKeys {
		return fmt.Errorf("root threshold %d must be between 1 and the number of root keys (%d)", opts.RootThreshold, opts.RootKeys)
	}
	return exp.Validate()
}

// RootKeyName is the name of the i-th root key (from 0).
func RootKeyName(i int) string { return fmt.Sprintf("root-%d", i+1) }

// CheckFresh refuses an existing repository in dir and existing key files
// in kd (errExists wraps the reason).
func CheckFresh(fs afero.Fs, dir string, kd *keys.Dir, rootKeys int, errExists error) error {
	if _, err := fs.Stat(filepath.Join(dir, repoconfig.File)); err == nil {
		return fmt.Errorf("%w: %s is already a repository (%s exists)", errExists, dir, repoconfig.File)
	}
	for _, d := range []string{repofiles.MetadataDir, repofiles.TargetsDir} {
		entries, err := afero.ReadDir(fs, filepath.Join(dir, d))
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		if len(entries) > 0 {
			return fmt.Errorf("%w: %s is not empty", errExists, filepath.Join(dir, d))
		}
	}
	names := append([]string{}, OnlineRoles...)
	for i := 0; i < rootKeys; i++ {
		names = append(names, RootKeyName(i))
	}
	for _, n := range names {
		for _, suffix := range []string{keys.KeySuffix, keys.PubSuffix} {
			p := filepath.Join(kd.Path, n+suffix)
			if _, err := kd.FS.Stat(p); err == nil {
				return fmt.Errorf("%w: key file %s exists", errExists, p)
			}
		}
	}
	return nil
}

// NewKeys are a ceremony's generated keys, not yet saved: the first root
// (unsigned) listing them, a keyring holding them all, and what Save
// writes.
type NewKeys struct {
	Root    *metadata.Metadata[metadata.RootType]
	Keyring keys.MemKeyring
	toWrite []pendingKey
}

type pendingKey struct {
	k    *keys.Key
	pass []byte
}

// Generate asks for every passphrase before generating anything, then
// generates opts.RootKeys root keys and one key for each online role and
// builds the first root (expiring at rootExpires) that lists them. res
// gets their names and IDs.
func Generate(kd *keys.Dir, opts InitOptions, rootExpires time.Time, res *InitResult) (*NewKeys, error) {
	if kd.Passphrase == nil {
		return nil, errors.New("no passphrase source for the new keys")
	}
	onlinePass, err := kd.Passphrase("online keys (targets, snapshot, timestamp)", true)
	if err != nil {
		return nil, err
	}
	rootPass := make([][]byte, opts.RootKeys)
	for i := range rootPass {
		if rootPass[i], err = kd.Passphrase(fmt.Sprintf("root key %s (%d of %d)", RootKeyName(i), i+1, opts.RootKeys), true); err != nil {
			return nil, err
		}
	}
	nk := &NewKeys{Root: metadata.Root(rootExpires), Keyring: keys.MemKeyring{}}
	for i := 0; i < opts.RootKeys; i++ {
		k, err := nk.add(RootKeyName(i), metadata.ROOT, opts.KeyType, rootPass[i])
		if err != nil {
			return nil, err
		}
		k.Offline = true
		res.RootKeyIDs = append(res.RootKeyIDs, k.ID())
		res.Keys = append(res.Keys, KeyInfo{Role: metadata.ROOT, Name: k.Name, KeyID: k.ID()})
	}
	nk.Root.Signed.Roles[metadata.ROOT].Threshold = opts.RootThreshold
	for _, role := range OnlineRoles {
		k, err := nk.add(role, role, opts.KeyType, onlinePass)
		if err != nil {
			return nil, err
		}
		res.Keys = append(res.Keys, KeyInfo{Role: role, Name: k.Name, KeyID: k.ID()})
	}
	return nk, nil
}

// add generates a key named name for role and lists it in the root.
func (nk *NewKeys) add(name, role string, typ keys.Type, pass []byte) (*keys.Key, error) {
	k, err := keys.Generate(name, typ)
	if err != nil {
		return nil, err
	}
	if err := nk.Root.Signed.AddKey(k.Public, role); err != nil {
		return nil, err
	}
	nk.Keyring.Add(k)
	nk.toWrite = append(nk.toWrite, pendingKey{k, pass})
	return k, nil
}

// Save writes every generated key, encrypted, into kd: before anything is
// signed with them, so nothing is ever signed by a key that was not saved.
func (nk *NewKeys) Save(kd *keys.Dir) error {
	for _, p := range nk.toWrite {
		if err := kd.Write(p.k, p.pass); err != nil {
			return fmt.Errorf("writing key %s: %w", p.k.Name, err)
		}
	}
	return nil
}
