package repo

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Repository is an open mrepo repository.
type Repository struct {
	fs  afero.Fs
	dir string
	cfg *Config

	// Now is the clock used for expiries; tests replace it.
	Now func() time.Time
	// LockTimeout is how long a writer waits for another one to finish.
	LockTimeout time.Duration
}

// Open opens the repository in dir.
func Open(fs afero.Fs, dir string) (*Repository, error) {
	cfg, err := readConfig(fs, dir)
	if err != nil {
		return nil, err
	}
	return &Repository{fs: fs, dir: dir, cfg: cfg, Now: time.Now, LockTimeout: time.Minute}, nil
}

// Dir is the repository's directory.
func (r *Repository) Dir() string { return r.dir }

// targetStore holds the repository's target files (targets/).
func (r *Repository) targetStore() targetstore.Store {
	return targetstore.Store{Fs: r.fs, Dir: r.dir}
}

// Config returns the repository configuration.
func (r *Repository) Config() Config { return *r.cfg }

func (r *Repository) metaPath(name string) string {
	return filepath.Join(r.dir, MetadataDir, name)
}

// expires returns the expiry for a role signed now: whole seconds, UTC,
// as python-tuf and the TUF specification require.
func (r *Repository) expires(role string) time.Time {
	return r.Now().UTC().Add(r.cfg.Expiry.For(role)).Truncate(time.Second)
}

// state is the repository as clients currently see it, reached from
// timestamp.json exactly as a client reaches it.
type state struct {
	root      *metadata.Metadata[metadata.RootType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	targets   *metadata.Metadata[metadata.TargetsType]
	adopted   *metadata.MetaFiles // snapshot newer than timestamp.json names (repofiles.ReadHeadState)
}

// readState reads the state a writer builds on, the newest committed
// snapshot (repofiles.ReadHeadState), without checking signatures.
func (r *Repository) readState() (*state, error) {
	s, adopted, err := repofiles.ReadHeadState(r.fs, r.dir)
	if err != nil {
		return nil, err
	}
	return &state{root: s.Root, timestamp: s.Timestamp, snapshot: s.Snapshot, targets: s.Targets, adopted: adopted}, nil
}

// load reads the current state and checks every role's signatures against
// the newest root, so that mrepo never re-signs (and thereby launders)
// metadata that someone edited on disk. Expiry is not checked: re-signing
// expired metadata is how it becomes fresh again.
func (r *Repository) load() (*state, error) {
	st, err := r.readState()
	if err != nil {
		return nil, err
	}
	if err := checkKeys(st.root.Signed.Keys); err != nil {
		return nil, storedErr(metadata.ROOT, err)
	}
	if err := r.checkRootLink(st.root); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		role string
		md   any
	}{{metadata.ROOT, st.root}, {metadata.TIMESTAMP, st.timestamp}, {metadata.SNAPSHOT, st.snapshot}, {metadata.TARGETS, st.targets}} {
		if err := st.root.VerifyDelegate(c.role, c.md); err != nil {
			return nil, storedErr(c.role, fmt.Errorf("%v%s", err, r.rotationHint()))
		}
	}
	return st, nil
}

// writeMeta writes metadata atomically and returns its bytes' length and
// SHA-256, which the next role up records.
func (r *Repository) writeMeta(name string, md interface{ ToBytes(bool) ([]byte, error) }) (*metadata.MetaFiles, error) {
	data, err := md.ToBytes(true)
	if err != nil {
		return nil, err
	}
	if err := atomicfs.WriteFile(r.fs, r.metaPath(name), data, 0o644); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return &metadata.MetaFiles{Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}, nil
}
