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
	vs, err := RootVersions(fs, metaDir)
	if err != nil {
		return nil, StoredError(MetadataDir, err)
	}
	if len(vs) == 0 {
		return nil, StoredError(MetadataDir, errors.New("no N.root.json"))
	}
	st := &State{}
	rootName := fmt.Sprintf("%d.root.json", vs[len(vs)-1])
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
	snapName := fmt.Sprintf("%d.snapshot.json", snapMeta.Version)
	if st.Snapshot, err = ReadMeta(fs, filepath.Join(metaDir, snapName), metadata.Snapshot(), snapMeta); err != nil {
		return nil, StoredError(snapName, err)
	}
	targMeta := st.Snapshot.Signed.Meta["targets.json"]
	if targMeta == nil {
		return nil, StoredError(snapName, errors.New("no targets.json entry"))
	}
	targName := fmt.Sprintf("%d.targets.json", targMeta.Version)
	if st.Targets, err = ReadMeta(fs, filepath.Join(metaDir, targName), metadata.Targets(), targMeta); err != nil {
		return nil, StoredError(targName, err)
	}
	return st, nil
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
