package tufsession

import (
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TopTarget is target path as the top-level targets role itself lists it
// (never a delegated role: repository-wide configuration such as the
// telemetry sampling is signed by targets), or nil when it lists none.
func (s *Session) TopTarget(path string) *metadata.TargetFiles {
	top := s.up.GetTrustedMetadataSet().Targets[metadata.TARGETS]
	if top == nil {
		return nil
	}
	return top.Signed.Targets[path]
}

// FetchTarget downloads the bytes of a small target tf (at most max
// bytes), bounded by its signed length, and checks them against that
// length and every hash it lists.
func (s *Session) FetchTarget(tf *metadata.TargetFiles, max int64) ([]byte, error) {
	if tf.Length < 0 || tf.Length > max {
		return nil, codes.Errorf(codes.LengthExceeded, nil, "%s: signed length %d, at most %d allowed", tf.Path, tf.Length, max)
	}
	if err := transport.CheckTargetHashes(tf); err != nil {
		return nil, codes.Errorf(codes.MetadataInvalid, err, "target %s", tf.Path)
	}
	data, err := s.fetcher.Inner.DownloadFile(s.URLOf(tf), tf.Length, 0)
	if err != nil {
		if s.ctx.Err() != nil {
			return nil, transport.Stopped(s.ctx, "fetching %s", tf.Path)
		}
		return nil, codes.Errorf(codes.Network, err, "%s", tf.Path)
	}
	if err := checkTarget(tf, data); err != nil {
		return nil, err
	}
	return data, nil
}
