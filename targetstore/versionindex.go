package targetstore

import (
	"bytes"
	"fmt"
	"io"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// PutVersionIndex stores the version index of modelID naming versions
// (targets.NewVersionIndex) and returns its target.
func (s Store) PutVersionIndex(modelID string, versions []string) (*metadata.TargetFiles, error) {
	vi, err := targets.NewVersionIndex(modelID, versions)
	if err != nil {
		return nil, err
	}
	return s.Put(targets.VersionIndexPath(modelID), bytes.NewReader(vi.Marshal()), nil, nil)
}

// VersionIndex reads the stored version index of modelID whose signed
// target is tf, bounded by its signed length (at most
// targets.MaxVersionIndexSize) and checked against its signed SHA-256,
// and parses it strictly. Errors wrap repofiles.ErrStoredMetadata.
func (s Store) VersionIndex(modelID string, tf *metadata.TargetFiles) (*targets.VersionIndex, error) {
	ipath := targets.VersionIndexPath(modelID)
	fail := func(err error) (*targets.VersionIndex, error) { return nil, repofiles.StoredError(ipath, err) }
	if tf.Length > targets.MaxVersionIndexSize {
		return fail(fmt.Errorf("signed length %d is above %d", tf.Length, targets.MaxVersionIndexSize))
	}
	ref := *tf
	ref.Path = ipath
	f, err := s.Open(&ref)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, tf.Length+1))
	if err != nil {
		return fail(err)
	}
	if err := tf.VerifyLengthHashes(data); err != nil {
		return fail(err)
	}
	vi, err := targets.ParseVersionIndex(data, modelID)
	if err != nil {
		return fail(err)
	}
	return vi, nil
}
