package repo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// InitOptions configure the key ceremony.
type InitOptions struct {
	// RootKeys is how many root keys to generate (default 1), RootThreshold
	// how many of them must sign a root (default 1).
	RootKeys      int
	RootThreshold int
	// KeyType is the algorithm of every generated key (default ed25519).
	KeyType keys.Type
	// Expiry overrides DefaultExpiry.
	Expiry *Expiry
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

// onlineRoles are the roles whose keys live with the repository tooling;
// root keys are meant to go offline right after the ceremony.
var onlineRoles = []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// Init runs the key ceremony: it generates the root keys and one key for
// each online role, stores them encrypted in kd, and writes version 1 of
// every role's metadata into dir. It refuses to touch an existing
// repository or overwrite existing key files.
func Init(fs afero.Fs, dir string, kd *keys.Dir, opts InitOptions) (*InitResult, error) {
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
	exp := DefaultExpiry
	if opts.Expiry != nil {
		exp = *opts.Expiry
	}
	if err := opts.validate(exp); err != nil {
		return nil, err
	}
	if kd.Passphrase == nil {
		return nil, errors.New("no passphrase source for the new keys")
	}
	if err := checkFresh(fs, dir, kd, opts.RootKeys); err != nil {
		return nil, err
	}

	// Ask for every passphrase before generating or writing anything.
	onlinePass, err := kd.Passphrase("online keys (targets, snapshot, timestamp)", true)
	if err != nil {
		return nil, err
	}
	rootPass := make([][]byte, opts.RootKeys)
	for i := range rootPass {
		if rootPass[i], err = kd.Passphrase(fmt.Sprintf("root key %s (%d of %d)", rootKeyName(i), i+1, opts.RootKeys), true); err != nil {
			return nil, err
		}
	}

	res := &InitResult{Repository: dir, RootThreshold: opts.RootThreshold}
	kr := keys.MemKeyring{}
	r := &Repository{fs: fs, dir: dir, cfg: &Config{Format: configMagic, Expiry: exp}, Now: opts.Now, LockTimeout: time.Minute}
	root := metadata.Root(r.expires(metadata.ROOT))
	type pending struct {
		k    *keys.Key
		pass []byte
	}
	var toWrite []pending
	for i := 0; i < opts.RootKeys; i++ {
		k, err := keys.Generate(rootKeyName(i), opts.KeyType)
		if err != nil {
			return nil, err
		}
		k.Offline = true
		if err := root.Signed.AddKey(k.Public, metadata.ROOT); err != nil {
			return nil, err
		}
		kr.Add(k)
		toWrite = append(toWrite, pending{k, rootPass[i]})
		res.RootKeyIDs = append(res.RootKeyIDs, k.ID())
		res.Keys = append(res.Keys, KeyInfo{Role: metadata.ROOT, Name: k.Name, KeyID: k.ID()})
	}
	root.Signed.Roles[metadata.ROOT].Threshold = opts.RootThreshold
	for _, role := range onlineRoles {
		k, err := keys.Generate(role, opts.KeyType)
		if err != nil {
			return nil, err
		}
		if err := root.Signed.AddKey(k.Public, role); err != nil {
			return nil, err
		}
		kr.Add(k)
		toWrite = append(toWrite, pending{k, onlinePass})
		res.Keys = append(res.Keys, KeyInfo{Role: role, Name: k.Name, KeyID: k.ID()})
	}

	// Sign everything in memory first: a failure here writes nothing.
	st := &state{
		root:      root,
		targets:   metadata.Targets(),
		snapshot:  metadata.Snapshot(),
		timestamp: metadata.Timestamp(),
	}
	ss, err := gatherSigners(st, kr, metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
	if err != nil {
		return nil, err
	}
	if err := signRole(root, ss[metadata.ROOT]); err != nil {
		return nil, err
	}
	rootBytes, err := root.ToBytes(true)
	if err != nil {
		return nil, err
	}

	// Keys first, so nothing is ever signed by a key that was not saved.
	for _, p := range toWrite {
		if err := kd.Write(p.k, p.pass); err != nil {
			return nil, fmt.Errorf("writing key %s: %w", p.k.Name, err)
		}
	}
	for _, d := range []string{MetadataDir, TargetsDir} {
		if err := fs.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	res.RootFile = r.metaPath("1.root.json")
	if _, err := r.writeMeta("1.root.json", rawBytes(rootBytes)); err != nil {
		return nil, err
	}
	// The other roles start at version 0 in memory; publish bumps them to 1
	// and writes them in the crash-safe order used for every later change.
	st.targets.Signed.Version = 0
	st.snapshot.Signed.Version = 0
	st.timestamp.Signed.Version = 0
	t := r.newTx(st)
	t.publish(ss, metadata.TARGETS)
	if _, err := t.commit(); err != nil {
		return nil, err
	}
	// The configuration is written last: an interrupted ceremony leaves no
	// directory that Open accepts.
	if err := writeConfig(fs, dir, r.cfg); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(rootBytes)
	res.RootSHA256 = hex.EncodeToString(sum[:])
	return res, nil
}

// ValidateInitOptions checks ceremony options without touching anything,
// so a command line can report bad options as usage errors.
func ValidateInitOptions(opts InitOptions) error {
	exp := DefaultExpiry
	if opts.Expiry != nil {
		exp = *opts.Expiry
	}
	return opts.validate(exp)
}

func (opts InitOptions) validate(exp Expiry) error {
	if opts.RootKeys < 1 || opts.RootKeys > 32 {
		return fmt.Errorf("root keys: %d is not between 1 and 32", opts.RootKeys)
	}
	if opts.RootThreshold < 1 || opts.RootThreshold > opts.RootKeys {
		return fmt.Errorf("root threshold %d must be between 1 and the number of root keys (%d)", opts.RootThreshold, opts.RootKeys)
	}
	return exp.Validate()
}

func rootKeyName(i int) string { return fmt.Sprintf("root-%d", i+1) }

type rawBytes []byte

func (b rawBytes) ToBytes(bool) ([]byte, error) { return b, nil }

// checkFresh refuses an existing repository and existing key files.
func checkFresh(fs afero.Fs, dir string, kd *keys.Dir, rootKeys int) error {
	if _, err := fs.Stat(filepath.Join(dir, ConfigFile)); err == nil {
		return fmt.Errorf("%w: %s is already a repository (%s exists)", ErrExists, dir, ConfigFile)
	}
	for _, d := range []string{MetadataDir, TargetsDir} {
		entries, err := afero.ReadDir(fs, filepath.Join(dir, d))
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		if len(entries) > 0 {
			return fmt.Errorf("%w: %s is not empty", ErrExists, filepath.Join(dir, d))
		}
	}
	names := append([]string{}, onlineRoles...)
	for i := 0; i < rootKeys; i++ {
		names = append(names, rootKeyName(i))
	}
	for _, n := range names {
		for _, suffix := range []string{keys.KeySuffix, keys.PubSuffix} {
			p := filepath.Join(kd.Path, n+suffix)
			if _, err := kd.FS.Stat(p); err == nil {
				return fmt.Errorf("%w: key file %s exists", ErrExists, p)
			}
		}
	}
	return nil
}
