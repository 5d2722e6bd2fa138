package verifiedread

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

const (
	// RehashFile records, in a model's directory, the last full re-hash of
	// its active version that found it intact.
	RehashFile = "rehash.json"
	// MaxRehashFile bounds it.
	MaxRehashFile = 4096
)

// Policy says when an up-to-date update re-hashes the active version in
// full rather than checking its files' presence and sizes.
type Policy struct {
	// Always re-hashes (mclient update --verify-active).
	Always bool
	// Every re-hashes when the last good full re-hash of this version is
	// older than Every, was never recorded, or is recorded in the future
	// (0: never for this reason).
	Every time.Duration
	// Now is the time of the check, recorded after a good re-hash.
	Now time.Time
}

// Record is rehash.json.
type Record struct {
	Version string `json:"version"`
	// Time is the end of the last full re-hash that found Version intact
	// (RFC 3339, UTC, whole seconds).
	Time string `json:"time"`
}

// ParseRecord reads rehash.json: strict JSON, bounded, a valid version
// and time.
func ParseRecord(data []byte) (Record, time.Time, error) {
	var r Record
	if len(data) > MaxRehashFile {
		return r, time.Time{}, fmt.Errorf("larger than %d bytes", MaxRehashFile)
	}
	if err := jsonlimit.UnmarshalStrict(data, &r, MaxRehashFile); err != nil {
		return r, time.Time{}, err
	}
	if _, err := targets.ParseVersion(r.Version); err != nil {
		return r, time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, r.Time)
	if err != nil {
		return r, time.Time{}, err
	}
	return r, t, nil
}

// Due says whether pol asks for a full re-hash of version now, given the
// record in p (a missing or unreadable one: due).
func Due(p devstate.ModelPaths, version string, pol Policy) bool {
	if pol.Always {
		return true
	}
	if pol.Every <= 0 {
		return false
	}
	data, err := p.FS.ReadFile(filepath.Join(p.Dir, RehashFile), MaxRehashFile)
	if err != nil {
		return true
	}
	r, t, err := ParseRecord(data)
	if err != nil || r.Version != version || t.After(pol.Now) {
		return true
	}
	return pol.Now.Sub(t) >= pol.Every
}

// CheckActive checks the installed active version against its signed
// files fs: a full re-hash when pol says one is due (recorded in
// rehash.json once it found the version intact), else presence and
// sizes only (installed.CheckSizesSigned). The error is the damage found
// (HASH_MISMATCH), or CANCELLED or INTERRUPTED when ctx ended.
func CheckActive(ctx context.Context, p devstate.ModelPaths, version string, fs map[string]*metadata.TargetFiles, pol Policy) error {
	dir := p.Version(version)
	if !Due(p, version, pol) {
		return installed.CheckSizesSigned(p.FS, dir, fs)
	}
	if err := installed.VerifyDir(ctx, p.FS, dir, fs); err != nil {
		return err
	}
	// Best effort: a record that cannot be written only makes the next
	// run re-hash again.
	devstate.WriteJSON(p.FS, filepath.Join(p.Dir, RehashFile), Record{Version: version, Time: pol.Now.UTC().Format(targets.TimeFormat)})
	return nil
}
