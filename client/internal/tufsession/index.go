package tufsession

import (
	"path/filepath"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// VersionIndex returns the model's version index (targets.VersionIndex):
// nil without error when top-level targets does not delegate through
// succinct hash bins or no role lists the index (the versions are then
// listed from every role that may sign a manifest, LoadRolesFor). The
// index is a target like any other: looked up through the delegation tree
// (one bin), its bytes bounded by its signed length, at most
// targets.MaxVersionIndexSize, and checked against every hash it lists.
// The verified bytes are kept in the metadata directory (indexCache), so
// that an unchanged index is not downloaded again and offline sessions
// can read it: a kept copy is used only if it matches the signed hashes.
func (s *Session) VersionIndex(modelID string) (*targets.VersionIndex, error) {
	top := s.up.GetTrustedMetadataSet().Targets[metadata.TARGETS]
	if top == nil || top.Signed.Delegations == nil || top.Signed.Delegations.SuccinctRoles == nil {
		return nil, nil
	}
	p := targets.VersionIndexPath(modelID)
	tf, err := s.Lookup(p)
	if codes.CodeOf(err) == codes.TargetNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if tf.Length < 0 || tf.Length > targets.MaxVersionIndexSize {
		return nil, codes.Errorf(codes.LengthExceeded, nil, "%s: signed length %d, at most %d allowed", p, tf.Length, targets.MaxVersionIndexSize)
	}
	cache := filepath.Join(s.metaDir, indexCache(modelID))
	data, err := jsonlimit.ReadFile(cache, targets.MaxVersionIndexSize)
	if err != nil || checkTarget(tf, data) != nil {
		if data, err = s.fetcher.Inner.DownloadFile(s.URLOf(tf), tf.Length, 0); err != nil {
			if s.ctx.Err() != nil {
				return nil, transport.Stopped(s.ctx, "fetching %s", p)
			}
			code := codes.TUFCode(err, "")
			if code == codes.TargetNotFound {
				code = codes.Network // signed, so the repository should have it
			}
			return nil, codes.Errorf(code, err, "%s", p)
		}
		if err := checkTarget(tf, data); err != nil {
			return nil, err
		}
		// Best effort: without a kept copy the next session downloads it.
		_ = persist(s.metaDir, cache, data)
	}
	vi, err := targets.ParseVersionIndex(data, modelID)
	if err != nil {
		return nil, codes.Errorf(codes.MetadataInvalid, err, "%s", p)
	}
	return vi, nil
}

// indexCache names the kept copy of a model's version index in the
// metadata directory: '#' is escaped in the file name of every role
// (url.PathEscape), so no role's metadata can have this name.
func indexCache(modelID string) string { return "#index." + modelID + ".json" }

// checkTarget checks bytes against a target's signed length and every
// supported hash it lists.
func checkTarget(tf *metadata.TargetFiles, data []byte) error {
	if int64(len(data)) != tf.Length {
		return codes.Errorf(codes.HashMismatch, nil, "%s: %d bytes, signed length %d", tf.Path, len(data), tf.Length)
	}
	h := transport.NewTargetHash(tf)
	h.Write(data)
	return h.Check(tf.Path)
}
