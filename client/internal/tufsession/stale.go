package tufsession

import (
	"encoding/json"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// stale reports whether downloaded metadata of role is what a lagging
// cache serves (transport's cachebust.go): a timestamp older than the
// trusted one or expired at the session's reference time, or a snapshot
// or targets role (top-level or delegated) whose length, hashes or
// version are not those its referring metadata records. It reads the
// bytes unverified, only to decide whether to download them once more
// past the caches: go-tuf verifies whatever comes back.
func (s *Session) stale(role string, data []byte) bool {
	ts := s.up.GetTrustedMetadataSet()
	var want *metadata.MetaFiles
	switch role {
	case metadata.ROOT:
		return false
	case metadata.TIMESTAMP:
		v, expires, ok := unverifiedHeader(data)
		if !ok {
			return false
		}
		older := ts.Timestamp != nil && v < ts.Timestamp.Signed.Version
		return older || ts.RefTime.After(expires)
	case metadata.SNAPSHOT:
		if ts.Timestamp != nil {
			want = ts.Timestamp.Signed.Meta[metadata.SNAPSHOT+".json"]
		}
	default:
		if ts.Snapshot != nil {
			want = ts.Snapshot.Signed.Meta[role+".json"]
		}
	}
	if want == nil {
		return false
	}
	if want.VerifyLengthHashes(data) != nil {
		return true
	}
	if len(want.Hashes) > 0 {
		return false // the very bytes recorded
	}
	v, _, ok := unverifiedHeader(data)
	return ok && v != want.Version
}

// unverifiedHeader reads the version and expiry of a metadata file
// without verifying anything; ok is false if it does not parse.
func unverifiedHeader(data []byte) (version int64, expires time.Time, ok bool) {
	var m struct {
		Signed struct {
			Version int64     `json:"version"`
			Expires time.Time `json:"expires"`
		} `json:"signed"`
	}
	if json.Unmarshal(data, &m) != nil {
		return 0, time.Time{}, false
	}
	return m.Signed.Version, m.Signed.Expires, true
}
