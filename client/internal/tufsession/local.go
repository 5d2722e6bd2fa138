package tufsession

import (
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// A refresh persists each role as soon as it is verified, so one that
// fails or is killed half way (a dropped connection, a mirror that has the
// new snapshot but not yet the new targets) can leave timestamp.json and
// snapshot.json newer than targets.json: a set that offline sessions
// (verify, rollback, a pending trial) cannot load. After each complete
// refresh, update therefore copies the metadata to a sibling directory,
// replaced as a whole by renames, and offline sessions read that copy.

// SaveVerified copies the metadata of metaDir, consistent after a complete
// refresh, to metaDir+devstate.VerifiedSuffix. Best effort: an offline session
// falls back to the previous copy, then to metaDir itself.
func SaveVerified(metaDir string) {
	dst := metaDir + devstate.VerifiedSuffix
	tmp, old := dst+".new", dst+".old"
	os.RemoveAll(tmp)
	entries, err := os.ReadDir(metaDir)
	if err != nil || os.Mkdir(tmp, 0o700) != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(metaDir, e.Name()))
		if err != nil || os.WriteFile(filepath.Join(tmp, e.Name()), data, 0o600) != nil {
			os.RemoveAll(tmp)
			return
		}
	}
	devstate.SyncDir(tmp)
	// Keep an .old copy until the new one is in place (one complete copy
	// always exists).
	if _, err := os.Stat(dst); err == nil {
		os.RemoveAll(old)
		if os.Rename(dst, old) != nil {
			os.RemoveAll(tmp)
			return
		}
	}
	if os.Rename(tmp, dst) == nil {
		devstate.SyncDir(filepath.Dir(dst))
		os.RemoveAll(old)
	}
}

// VerifiedDir is the metadata directory offline sessions read: the copy
// SaveVerified made, the previous one if a kill came between its renames,
// or metaDir if there is none yet.
func VerifiedDir(metaDir string) string {
	for _, d := range []string{metaDir + devstate.VerifiedSuffix, metaDir + devstate.VerifiedSuffix + ".old"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return metaDir
}

// persist writes a verified metadata file as go-tuf does (a tuf_tmp*
// temporary file, then a rename), and fsyncs it.
func persist(dir, file string, data []byte) error {
	f, err := os.CreateTemp(dir, "tuf_tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), file)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// maxLocalMetadata bounds the local metadata file LocalExpiry reads
// (go-tuf's largest default limit is 5 MB, for targets).
const maxLocalMetadata = 32 << 20

// OfflineRef is the reference time of an offline session on the metadata
// in metaDir: now, or just before the earliest expiry of its timestamp,
// snapshot and targets if that is earlier (integrity checks of installed
// files need authenticity, not freshness).
func OfflineRef(metaDir string, now time.Time) time.Time {
	for _, role := range []string{metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS} {
		if exp, ok := LocalExpiry(filepath.Join(metaDir, role+".json")); ok && !exp.After(now) {
			now = exp.Add(-time.Second)
		}
	}
	return now
}

// LocalExpiry reads the "expires" of a local metadata file without
// verifying it; used only to pick a reference time for offline checks.
func LocalExpiry(path string) (time.Time, bool) {
	data, err := jsonlimit.ReadFile(path, maxLocalMetadata)
	if err != nil {
		return time.Time{}, false
	}
	var m struct {
		Signed struct {
			Expires time.Time `json:"expires"`
		} `json:"signed"`
	}
	if jsonlimit.Unmarshal(data, &m, maxLocalMetadata) != nil || m.Signed.Expires.IsZero() {
		return time.Time{}, false
	}
	return m.Signed.Expires, true
}
