package repofiles

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"

	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Lock-free publishing (docs/design.md section 6): publishers that share a
// repository in object storage commit with conditional creation of
// versioned names, and a writer finds what to build on and which version
// to write next by probing names (one Stat each), never by listing.

// RoleFile is the consistent-snapshot name of version of role: top-level
// (targets, snapshot, root) or delegated.
func RoleFile(role string, version int64) string {
	return fmt.Sprintf("%d.%s.json", version, url.PathEscape(role))
}

// exists reports whether name exists; an error other than "does not
// exist" is returned: the writer must not guess.
func exists(fsys afero.Fs, name string) (bool, error) {
	_, err := fsys.Stat(name)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, StoredError(filepath.Base(name), err)
}

// MaxProbe bounds how many versioned names a writer probes past the
// current version (NextVersion, ReadHeadState). Legitimately there are a
// few: orphans of publishers that failed, snapshots committed by
// publishers that died before their timestamp. Someone who can write to
// the repository's bucket could plant any number, and a writer must not
// probe without end.
const MaxProbe = 1 << 12

// errProbe is the error of a probe past MaxProbe.
func errProbe(role string, from int64) error {
	return StoredError(RoleFile(role, from+MaxProbe+1), fmt.Errorf("more than %d versions of %s exist past version %d", MaxProbe, role, from))
}

// NextVersion is the version a writer gives a new version of role, whose
// current version is cur: the first N > cur with no N.<role>.json in
// metaDir. A publisher that lost a race or died before its snapshot left
// such a file behind, unreferenced; it is skipped (TUF allows gaps in the
// versions of targets and delegated roles, and in the snapshot's).
func NextVersion(fsys afero.Fs, metaDir, role string, cur int64) (int64, error) {
	for v := cur + 1; ; v++ {
		if v > cur+1+MaxProbe { // MaxProbe names skipped
			return 0, errProbe(role, cur)
		}
		taken, err := exists(fsys, filepath.Join(metaDir, RoleFile(role, v)))
		if err != nil || !taken {
			return v, err
		}
	}
}

// LatestRoot is the newest root version in metaDir, found by probing
// N.root.json (root versions are consecutive from 1): doubling, then
// bisecting, so a repository with many roots costs a few Stat calls.
func LatestRoot(fsys afero.Fs, metaDir string) (int64, error) {
	have := func(v int64) (bool, error) { return exists(fsys, filepath.Join(metaDir, RoleFile(metadata.ROOT, v))) }
	ok, err := have(1)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, StoredError(MetadataDir, errors.New("no N.root.json (1.root.json is missing)"))
	}
	lo, hi := int64(1), int64(2) // lo exists; hi is probed
	for {
		ok, err := have(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 { // lo exists, hi does not
		mid := lo + (hi-lo)/2
		ok, err := have(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// ReadHeadState is ReadState for a writer: the state it builds on is the
// newest committed snapshot, found by probing N+1.snapshot.json upward
// from the version timestamp.json names. A publisher that died (or lost
// the race on timestamp.json) after writing its snapshot has published
// all the same, and the next writer builds on its snapshot instead of
// dropping it. The adopted snapshot's bytes are not checked against the
// timestamp (which does not name them yet); its signatures are checked by
// the writer like every other role's. Adopted is the snapshot entry the
// next timestamp records (nil when timestamp.json names the newest).
func ReadHeadState(fsys afero.Fs, dir string) (st *State, adopted *metadata.MetaFiles, err error) {
	if st, err = ReadState(fsys, dir); err != nil {
		return nil, nil, err
	}
	metaDir := filepath.Join(dir, MetadataDir)
	head := st.Snapshot.Signed.Version
	for {
		taken, err := exists(fsys, filepath.Join(metaDir, RoleFile(metadata.SNAPSHOT, head+1)))
		if err != nil {
			return nil, nil, err
		}
		if !taken {
			break
		}
		if head++; head > st.Snapshot.Signed.Version+MaxProbe {
			return nil, nil, errProbe(metadata.SNAPSHOT, st.Snapshot.Signed.Version)
		}
	}
	if head == st.Snapshot.Signed.Version {
		return st, nil, nil
	}
	snapName := RoleFile(metadata.SNAPSHOT, head)
	data, err := ReadBounded(fsys, filepath.Join(metaDir, snapName), MaxMetadataSize)
	if err != nil {
		return nil, nil, StoredError(snapName, err)
	}
	if st.Snapshot, err = metadata.Snapshot().FromBytes(data); err != nil {
		return nil, nil, StoredError(snapName, err)
	}
	if st.Snapshot.Signed.Version != head {
		return nil, nil, StoredError(snapName, fmt.Errorf("records version %d", st.Snapshot.Signed.Version))
	}
	if st.Targets, err = readTargets(fsys, metaDir, snapName, st.Snapshot); err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(data)
	return st, &metadata.MetaFiles{Version: head, Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}, nil
}
