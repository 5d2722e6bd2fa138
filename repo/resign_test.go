package repo

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/status"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func TestTimestamp(t *testing.T) {
	t.Parallel()
	fs, dir := clone(t, publishedTree)
	// After the original timestamp (t0 + 1 day) expired.
	now := t0.Add(30 * time.Hour)
	if rep := verifyAt(t, fs, dir, now); !hasProblem(rep, audit.MetadataExpired, metadata.TIMESTAMP, "") {
		t.Fatalf("timestamp not expired before re-signing: %v", rep.Problems)
	}
	before := fileSnapshot(t, fs, dir)
	r := openAt(t, fs, dir, now)
	v, err := r.Timestamp(keysFor(t, metadata.TIMESTAMP))
	if err != nil {
		t.Fatal(err)
	}
	if *v != (Versions{Targets: 3, Snapshot: 3, Timestamp: 4}) {
		t.Errorf("versions %+v", v)
	}
	if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); !reflect.DeepEqual(d, []string{"~metadata/timestamp.json"}) {
		t.Errorf("Timestamp changed %v, want only timestamp.json", d)
	}
	st := current(t, fs, dir)
	if !st.timestamp.Signed.Expires.Equal(expiryAt(now, DefaultExpiry.Timestamp)) || st.timestamp.Signed.Meta["snapshot.json"].Version != 3 {
		t.Errorf("timestamp expires %v, snapshot entry %+v", st.timestamp.Signed.Expires, st.timestamp.Signed.Meta["snapshot.json"])
	}
	checkChain(t, fs, dir, st)
	requireVerifies(t, fs, dir, now)
	requireVerifies(t, fs, dir, now.Add(23*time.Hour))
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	fs, dir := clone(t, publishedTree)
	now := t0.Add(8 * 24 * time.Hour) // snapshot and timestamp expired
	rep := verifyAt(t, fs, dir, now)
	if !hasProblem(rep, audit.MetadataExpired, metadata.SNAPSHOT, "") {
		t.Fatalf("snapshot not expired: %v", rep.Problems)
	}
	before := fileSnapshot(t, fs, dir)
	r := openAt(t, fs, dir, now)
	v, err := r.Snapshot(keysFor(t, metadata.SNAPSHOT, metadata.TIMESTAMP))
	if err != nil {
		t.Fatal(err)
	}
	if *v != (Versions{Targets: 3, Snapshot: 4, Timestamp: 4}) {
		t.Errorf("versions %+v", v)
	}
	if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); !reflect.DeepEqual(d, []string{"+metadata/4.snapshot.json", "~metadata/timestamp.json"}) {
		t.Errorf("Snapshot changed %v", d)
	}
	st := current(t, fs, dir)
	if !st.snapshot.Signed.Expires.Equal(expiryAt(now, DefaultExpiry.Snapshot)) || st.snapshot.Signed.Meta["targets.json"].Version != 3 {
		t.Errorf("snapshot expires %v, targets entry %+v", st.snapshot.Signed.Expires, st.snapshot.Signed.Meta["targets.json"])
	}
	checkChain(t, fs, dir, st)
	requireVerifies(t, fs, dir, now)
}

func TestResignRefusals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		snapshot bool
		roles    []string
		setup    func(t *testing.T, dir string, r *Repository)
		want     error
	}{
		{"timestamp without its key", false, []string{metadata.SNAPSHOT, metadata.TARGETS, metadata.ROOT}, nil, ErrThreshold},
		{"snapshot without the snapshot key", true, []string{metadata.TIMESTAMP}, nil, ErrThreshold},
		{"snapshot without the timestamp key", true, []string{metadata.SNAPSHOT}, nil, ErrThreshold},
		{"timestamp over an edited snapshot", false, []string{metadata.TIMESTAMP}, func(t *testing.T, dir string, r *Repository) {
			editJSON(t, r.fs, filepath.Join(dir, MetadataDir, "3.snapshot.json"), func(m map[string]any) { signedOf(m)["expires"] = "2099-01-01T00:00:00Z" })
		}, ErrStoredMetadata},
		{"snapshot over an edited targets", true, []string{metadata.SNAPSHOT, metadata.TIMESTAMP}, func(t *testing.T, dir string, r *Repository) {
			editJSON(t, r.fs, filepath.Join(dir, MetadataDir, "3.targets.json"), func(m map[string]any) { signedOf(m)["expires"] = "2099-01-01T00:00:00Z" })
		}, ErrStoredMetadata},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, dir := clone(t, publishedTree)
			r := openAt(t, fs, dir, t0.Add(time.Hour))
			if c.setup != nil {
				c.setup(t, dir, r)
			}
			before := fileSnapshot(t, fs, dir)
			var err error
			if c.snapshot {
				_, err = r.Snapshot(keysFor(t, c.roles...))
			} else {
				_, err = r.Timestamp(keysFor(t, c.roles...))
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(d) > 0 {
				t.Errorf("refused re-signing changed %v", d)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	fs, dir := clone(t, publishedTree)
	st := current(t, fs, dir)
	r := openAt(t, fs, dir, t0.Add(time.Hour))
	s, err := statusOf(r, status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Repository != dir || !s.Now.Equal(t0.Add(time.Hour).UTC().Truncate(time.Second)) {
		t.Errorf("status header %q %v", s.Repository, s.Now)
	}
	wantRoles := []status.Role{
		{Role: "root", Version: 1, Expires: st.root.Signed.Expires},
		{Role: "targets", Version: 3, Expires: st.targets.Signed.Expires},
		{Role: "snapshot", Version: 3, Expires: st.snapshot.Signed.Expires},
		{Role: "timestamp", Version: 3, Expires: st.timestamp.Signed.Expires},
	}
	for i := range wantRoles {
		role := st.root.Signed.Roles[wantRoles[i].Role]
		wantRoles[i].KeyIDs, wantRoles[i].Threshold, wantRoles[i].ValidSignatures, wantRoles[i].ThresholdMet = role.KeyIDs, 1, 1, true
	}
	if !reflect.DeepEqual(s.Roles, wantRoles) {
		t.Errorf("roles\n got %+v\nwant %+v", s.Roles, wantRoles)
	}
	if !reflect.DeepEqual(s.Models, []status.Model{{ModelID: "det", Versions: []string{"1.0.0", "2.0.0"}, Latest: "2.0.0", Epochs: map[string]uint64{"1.0.0": 1, "2.0.0": 2}}}) {
		t.Errorf("models %+v", s.Models)
	}
	if len(s.Warnings) != 0 {
		t.Errorf("warnings %q", s.Warnings)
	}

	// Warnings name exactly the roles inside their windows.
	for _, c := range []struct {
		name   string
		now    time.Time
		within time.Duration
		want   []string // prefixes, in role order
	}{
		{"timestamp in its last quarter", t0.Add(20 * time.Hour), 0, []string{"timestamp: expires in"}},
		{"timestamp expired", t0.Add(25 * time.Hour), 0, []string{"timestamp: EXPIRED at"}},
		{"snapshot in its last quarter too", t0.Add(6 * 24 * time.Hour), 0, []string{"snapshot: expires in", "timestamp: EXPIRED"}},
		{"explicit window", t0.Add(time.Hour), 100 * 24 * time.Hour, []string{"targets: expires in", "snapshot: expires in", "timestamp: expires in"}},
		{"everything expired", t0.Add(400 * 24 * time.Hour), 0, []string{"root: EXPIRED", "targets: EXPIRED", "snapshot: EXPIRED", "timestamp: EXPIRED"}},
	} {
		r.Now = clockAt(c.now)
		s, err := statusOf(r, status.Options{WarnWithin: c.within})
		if err != nil {
			t.Fatal(err)
		}
		if !prefixesMatch(s.Warnings, c.want) {
			t.Errorf("%s: warnings %q, want %q", c.name, s.Warnings, c.want)
		}
	}

	// Status still reports a repository whose signatures are broken.
	editJSON(t, fs, filepath.Join(dir, MetadataDir, "timestamp.json"), func(m map[string]any) { signedOf(m)["version"] = 99 })
	r.Now = clockAt(t0.Add(time.Hour))
	s, err = statusOf(r, status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := s.Roles[3]
	if ts.Role != "timestamp" || ts.Version != 99 || ts.ValidSignatures != 0 || ts.ThresholdMet {
		t.Errorf("tampered timestamp status %+v", ts)
	}
	if !prefixesMatch(s.Warnings, []string{"timestamp: 0 valid signatures, threshold 1"}) {
		t.Errorf("warnings %q", s.Warnings)
	}
}

func prefixesMatch(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			return false
		}
	}
	return true
}

// hasProblem reports whether rep lists a problem with the code, naming the
// role and the target given (empty means: any).
func hasProblem(rep *audit.Report, code audit.Code, role, target string) bool {
	for _, p := range rep.Problems {
		if p.Code == code && (role == "" || p.Role == role) && (target == "" || p.Target == target) {
			return true
		}
	}
	return false
}
