package tufsession

import (
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLocalExpiry: the unverified expiry read for offline checks agrees
// with go-tuf's own parser whenever go-tuf can read the file.
func FuzzLocalExpiry(f *testing.F) {
	for _, s := range []string{
		`{"signed":{"_type":"timestamp","spec_version":"1.0","version":3,"expires":"2030-01-01T00:00:00Z","meta":{"snapshot.json":{"version":3}}},"signatures":[]}`,
		`{"signed":{"_type":"targets","spec_version":"1.0","version":1,"expires":"2030-01-01T00:00:00.5+02:00","targets":{}},"signatures":[]}`,
		`{"signed":{"expires":"not a time"}}`,
		`{"signed":{"expires":"0001-01-01T00:00:00Z"}}`,
		`{"signed":{"expires":"2030-01-01T00:00:00Z"},"signed":{"expires":"2031-01-01T00:00:00Z"}}`,
		`{"Signed":{"Expires":"2030-01-01T00:00:00Z"}}`,
		`[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "timestamp.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		exp, ok := LocalExpiry(p)
		if ok && exp.IsZero() {
			t.Fatal("ok with a zero expiry")
		}
		check := func(role string, want time.Time, err error) {
			if err != nil || want.IsZero() {
				return
			}
			if !ok || !exp.Equal(want) {
				t.Fatalf("go-tuf reads %s expiry %v, localExpiry %v %v", role, want, exp, ok)
			}
		}
		ts, err := metadata.Timestamp().FromBytes(data)
		if err == nil {
			check("timestamp", ts.Signed.Expires, nil)
		}
		sn, err := metadata.Snapshot().FromBytes(data)
		if err == nil {
			check("snapshot", sn.Signed.Expires, nil)
		}
		tg, err := metadata.Targets().FromBytes(data)
		if err == nil {
			check("targets", tg.Signed.Expires, nil)
		}
	})
}

// FuzzUnverifiedHeader: the version and expiry read to decide whether a
// download is a stale cache's agree with go-tuf's parser whenever go-tuf
// can read the file, and reading never fails otherwise than by ok.
func FuzzUnverifiedHeader(f *testing.F) {
	for _, s := range []string{
		`{"signed":{"_type":"timestamp","spec_version":"1.0","version":3,"expires":"2030-01-01T00:00:00Z","meta":{"snapshot.json":{"version":3}}},"signatures":[]}`,
		`{"signed":{"_type":"snapshot","spec_version":"1.0","version":9,"expires":"2030-01-01T00:00:00Z","meta":{"targets.json":{"version":1}}},"signatures":[]}`,
		`{"signed":{"version":-1}}`, `{"signed":{"version":1e400}}`, `{"signed":{"expires":7}}`, `{"signed":null}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, exp, ok := unverifiedHeader(data)
		if !ok && (v != 0 || !exp.IsZero()) {
			t.Fatal("values without ok")
		}
		if ts, err := metadata.Timestamp().FromBytes(data); err == nil && (!ok || v != ts.Signed.Version || !exp.Equal(ts.Signed.Expires)) {
			t.Fatalf("go-tuf reads version %d expiring %v, unverifiedHeader %d %v %v", ts.Signed.Version, ts.Signed.Expires, v, exp, ok)
		}
		if sn, err := metadata.Snapshot().FromBytes(data); err == nil && (!ok || v != sn.Signed.Version) {
			t.Fatalf("go-tuf reads snapshot version %d, unverifiedHeader %d %v", sn.Signed.Version, v, ok)
		}
	})
}
