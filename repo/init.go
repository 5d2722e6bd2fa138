package repo

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/internal/repoconfig"
	"github.com/edgetuf/edgetuf/internal/rolesign"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// The key ceremony's options, result and key generation are package
// rolesign's; here its keys sign version 1 of every role.
type (
	// InitOptions configure the key ceremony.
	InitOptions = rolesign.InitOptions
	// KeyInfo names one generated key.
	KeyInfo = rolesign.KeyInfo
	// InitResult is what a ceremony produced. RootSHA256 is the digest of
	// metadata/1.root.json: the value to pin in device images.
	InitResult = rolesign.InitResult
)

// ValidateInitOptions checks ceremony options without touching anything,
// so a command line can report bad options as usage errors.
var ValidateInitOptions = rolesign.ValidateInitOptions

// onlineRoles are the roles whose keys live with the repository tooling.
var onlineRoles = rolesign.OnlineRoles

// Init runs the key ceremony: it generates the root keys and one key for
// each online role, stores them encrypted in kd, and writes version 1 of
// every role's metadata into dir. It refuses to touch an existing
// repository or overwrite existing key files.
func Init(fs afero.Fs, dir string, kd *keys.Dir, opts InitOptions) (*InitResult, error) {
	exp := opts.WithDefaults()
	if err := opts.Validate(exp); err != nil {
		return nil, err
	}
	if err := rolesign.CheckFresh(fs, dir, kd, opts.RootKeys, ErrExists); err != nil {
		return nil, err
	}
	res := &InitResult{Repository: dir, RootThreshold: opts.RootThreshold}
	r := &Repository{fs: fs, dir: dir, cfg: &Config{Format: configMagic, Expiry: exp, Bins: repoconfig.DefaultBins()}, Now: opts.Now, LockTimeout: time.Minute}
	nk, err := rolesign.Generate(kd, opts, r.expires(metadata.ROOT), res)
	if err != nil {
		return nil, err
	}
	root := nk.Root

	// Sign everything in memory first: a failure here writes nothing.
	st := &state{
		root:      root,
		targets:   metadata.Targets(),
		snapshot:  metadata.Snapshot(),
		timestamp: metadata.Timestamp(),
	}
	ss, err := gatherSigners(st, nk.Keyring, metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
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
	if err := nk.Save(kd); err != nil {
		return nil, err
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

type rawBytes []byte

func (b rawBytes) ToBytes(bool) ([]byte, error) { return b, nil }
