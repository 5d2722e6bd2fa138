package keyserver

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// versionIndex knows which versions the published metadata delivers by
// key service, and their signed content key recipients. It reads the
// repository as clients see it and checks it as they do
// (verifyRepository: root chain from 1.root.json, every signature, no
// rollback, no expiry): a file is never trusted because it is in the
// repository directory. It verifies again only when timestamp.json
// changes: a check per request costs one small bounded read and a hash.
//
// It fails closed: while the state timestamp.json leads to does not
// verify, or has expired, every request is refused (ErrMetadataInvalid)
// and the index of an earlier state is not used, so that corrupting a
// new publication cannot freeze the service at an older one.
type versionIndex struct {
	fs  afero.Fs
	dir string

	mu        sync.Mutex
	timestamp [32]byte // SHA-256 of the timestamp.json indexed
	index     *verifiedIndex
	// The highest timestamp and snapshot versions verified: an older one
	// is a rollback (a client that saw the newer refuses it too).
	timestampVersion, snapshotVersion int64
	// The last verification that failed: the same timestamp.json is
	// verified again at most once per retryInvalid, so that a flood of
	// requests against a repository that does not verify costs no more
	// than a read and a hash each.
	failed   [32]byte
	failedAt time.Time
	failure  error
}

// retryInvalid is how often a timestamp.json whose state did not verify
// is verified again (a writer may have been half-way through).
const retryInvalid = time.Second

// verifiedIndex is what one verified state delivers by key service.
type verifiedIndex struct {
	byPath  map[string]string // manifest target path -> content key recipient
	expires time.Time         // the earliest expiry of the roles it comes from
}

// recipient returns the signed content key recipient of modelID at
// version, if the version is published with delivery "keyserver". The
// error wraps ErrMetadataInvalid.
func (x *versionIndex) recipient(modelID, version string, now time.Time) (string, bool, error) {
	idx, err := x.current(now)
	if err != nil {
		return "", false, err
	}
	r, ok := idx.byPath[targets.ManifestPath(modelID, version)]
	return r, ok, nil
}

// current returns the index of the state timestamp.json names now,
// verifying it again if timestamp.json changed, or an error while it does
// not verify or has expired.
func (x *versionIndex) current(now time.Time) (*verifiedIndex, error) {
	data, err := repofiles.ReadBounded(x.fs, filepath.Join(x.dir, repofiles.MetadataDir, "timestamp.json"), repofiles.ClientLimit(metadata.TIMESTAMP))
	if err != nil {
		return nil, fmt.Errorf("%w: timestamp.json: %v", ErrMetadataInvalid, err)
	}
	sum := sha256.Sum256(data)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.index == nil || sum != x.timestamp {
		if x.failure != nil && sum == x.failed && now.Sub(x.failedAt) < retryInvalid && !now.Before(x.failedAt) {
			return nil, x.failure
		}
		// A failed verification drops the earlier index.
		x.index = nil
		idx, err := x.load(now)
		if err != nil {
			x.failed, x.failedAt, x.failure = sum, now, err
			return nil, err
		}
		x.index, x.timestamp, x.failure = idx, sum, nil
	}
	if !now.Before(x.index.expires) {
		return nil, fmt.Errorf("%w: the metadata expired at %s", ErrMetadataInvalid, x.index.expires.UTC().Format(time.RFC3339))
	}
	return x.index, nil
}

// load verifies the current state and indexes it.
func (x *versionIndex) load(now time.Time) (*verifiedIndex, error) {
	v, err := verifyRepository(x.fs, x.dir, now)
	if err != nil {
		return nil, err
	}
	tv, sv := v.st.Timestamp.Signed.Version, v.st.Snapshot.Signed.Version
	if tv < x.timestampVersion || sv < x.snapshotVersion {
		return nil, fmt.Errorf("%w: rolled back to timestamp version %d and snapshot version %d (the service verified %d and %d)",
			ErrMetadataInvalid, tv, sv, x.timestampVersion, x.snapshotVersion)
	}
	x.timestampVersion, x.snapshotVersion = tv, sv
	byPath := map[string]string{}
	for p, res := range v.tree.Effective() {
		pp, err := targets.ParseTargetPath(p)
		if err != nil || pp.File != targets.ManifestName {
			continue
		}
		c, err := targets.ParseCustom(p, res.Target.Custom)
		// A revoked version (the kill switch) gets no key: no device may
		// install it.
		if err != nil || c.Encrypted == nil || c.Encrypted.Delivery != targets.DeliveryKeyServer || c.Revoked != nil {
			continue
		}
		byPath[p] = c.Encrypted.Recipient
	}
	return &verifiedIndex{byPath: byPath, expires: v.expires}, nil
}
