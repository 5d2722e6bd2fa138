package repofiles

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ErrStoredMetadata: metadata on disk is missing, malformed or does not
// verify. The writer (as repo.ErrStoredMetadata) refuses to build on it;
// mrepo status reports it.
var ErrStoredMetadata = errors.New("stored metadata is invalid")

// StoredError wraps err, about the metadata file name, in ErrStoredMetadata.
func StoredError(name string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrStoredMetadata, name, err)
}

// State is the repository as clients currently see it: the newest root and
// the timestamp, snapshot and top-level targets it leads to.
type State struct {
	Root      *metadata.Metadata[metadata.RootType]
	Timestamp *metadata.Metadata[metadata.TimestampType]
	Snapshot  *metadata.Metadata[metadata.SnapshotType]
	Targets   *metadata.Metadata[metadata.TargetsType]
}

// ReadState reads the current state of the repository in dir, reached
// from timestamp.json exactly as a client reaches it, each file checked
// against the length and hashes its referrer records. Signatures are not
// checked: the writer checks them before it builds on the state, status
// reports them.
func ReadState(fs afero.Fs, dir string) (*State, error) {
	metaDir := filepath.Join(dir, MetadataDir)
	newest, err := LatestRoot(fs, metaDir)
	if err != nil {
		return nil, err
	}
	st := &State{}
	rootName := RoleFile(metadata.ROOT, newest)
	if st.Root, err = ReadMeta(fs, filepath.Join(metaDir, rootName), metadata.Root(), nil); err != nil {
		return nil, StoredError(rootName, err)
	}
	if st.Timestamp, err = ReadMeta(fs, filepath.Join(metaDir, "timestamp.json"), metadata.Timestamp(), nil); err != nil {
		return nil, StoredError("timestamp.json", err)
	}
	snapMeta := st.Timestamp.Signed.Meta["snapshot.json"]
	if snapMeta == nil {
		return nil, StoredError("timestamp.json", errors.New("no snapshot.json entry"))
	}
	snapName := RoleFile(metadata.SNAPSHOT, snapMeta.Version)
	if st.Snapshot, err = ReadMeta(fs, filepath.Join(metaDir, snapName), metadata.Snapshot(), snapMeta); err != nil {
		return nil, StoredError(snapName, err)
	}
	if st.Targets, err = readTargets(fs, metaDir, snapName, st.Snapshot); err != nil {
		return nil, err
	}
	return st, nil
}

// readTargets reads the top-level targets snapshot (named snapName)
// records, checked against its entry.
func readTargets(fs afero.Fs, metaDir, snapName string, snapshot *metadata.Metadata[metadata.SnapshotType]) (*metadata.Metadata[metadata.TargetsType], error) {
	targMeta := snapshot.Signed.Meta["targets.json"]
	if targMeta == nil {
		return nil, StoredError(snapName, errors.New("no targets.json entry"))
	}
	targName := RoleFile(metadata.TARGETS, targMeta.Version)
	md, err := ReadMeta(fs, filepath.Join(metaDir, targName), metadata.Targets(), targMeta)
	if err != nil {
		return nil, StoredError(targName, err)
	}
	return md, nil
}

// ReadMeta reads a metadata file, bounded by MaxMetadataSize. If ref (the
// entry another role records for it) gives a length or hashes, the bytes
// must match them: re-signing a snapshot or timestamp that names other
// bytes than those on disk would publish a repository every client
// rejects.
func ReadMeta[T metadata.Roles](fs afero.Fs, name string, into *metadata.Metadata[T], ref *metadata.MetaFiles) (*metadata.Metadata[T], error) {
	data, err := ReadBounded(fs, name, MaxMetadataSize)
	if err != nil {
		return nil, err
	}
	if ref != nil && (ref.Length != 0 || len(ref.Hashes) != 0) {
		if err := ref.VerifyLengthHashes(data); err != nil {
			return nil, fmt.Errorf("differs from the length or hash its referrer records: %v", err)
		}
	}
	return into.FromBytes(data)
}
