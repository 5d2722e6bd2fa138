package verifiedread

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// installedVersion makes models/det/1.0.0/model.bin under a temporary
// state directory and returns its paths and signed files.
func installedVersion(t *testing.T) (devstate.ModelPaths, map[string]*metadata.TargetFiles) {
	t.Helper()
	dir := t.TempDir()
	p := devstate.Paths(dir, "det")
	data := []byte("detector weights")
	if err := os.MkdirAll(p.Version("1.0.0"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.Version("1.0.0"), "model.bin"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return p, map[string]*metadata.TargetFiles{"model.bin": {Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}}
}

func TestDue(t *testing.T) {
	p, _ := installedVersion(t)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	rec := func(s string) {
		if err := os.WriteFile(filepath.Join(p.Dir, RehashFile), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if Due(p, "1.0.0", Policy{Now: now}) || !Due(p, "1.0.0", Policy{Always: true, Now: now}) || !Due(p, "1.0.0", Policy{Every: time.Hour, Now: now}) {
		t.Fatal("without a record: due only when asked")
	}
	rec(`{"version": "1.0.0", "time": "2026-12-04T11:00:01Z"}`)
	if Due(p, "1.0.0", Policy{Every: time.Hour, Now: now}) {
		t.Fatal("59m59s old: due")
	}
	for _, r := range []string{
		`{"version": "1.0.0", "time": "2026-12-04T11:00:00Z"}`, // 1h old
		`{"version": "1.0.0", "time": "2026-12-04T12:00:01Z"}`, // in the future
		`{"version": "1.1.0", "time": "2026-12-04T11:59:00Z"}`, // another version
		`{"version": "1.0.0", "time": "2026-12-04T11:59:00Z", "x": 1}`,
		`{"version": "../x", "time": "2026-12-04T11:59:00Z"}`,
		`{"version": "1.0.0", "time": "noon"}`,
		"garbage",
	} {
		rec(r)
		if !Due(p, "1.0.0", Policy{Every: time.Hour, Now: now}) {
			t.Fatalf("%s: not due", r)
		}
	}
	// A link is not followed: due.
	os.Remove(filepath.Join(p.Dir, RehashFile))
	out := filepath.Join(t.TempDir(), "rec")
	os.WriteFile(out, []byte(`{"version": "1.0.0", "time": "2026-12-04T11:59:00Z"}`), 0o600)
	os.Symlink(out, filepath.Join(p.Dir, RehashFile))
	if !Due(p, "1.0.0", Policy{Every: time.Hour, Now: now}) {
		t.Fatal("a linked record was trusted")
	}
}

// TestCheckActive: a full re-hash finds a same-size change that the size
// check does not, records only a good one, and stops on the context.
func TestCheckActive(t *testing.T) {
	p, fs := installedVersion(t)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	if err := CheckActive(ctx, p, "1.0.0", fs, Policy{Always: true, Now: now}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(p.Dir, RehashFile))
	if err != nil || !strings.Contains(string(data), `"time": "2026-12-04T12:00:00Z"`) {
		t.Fatalf("record %s %v", data, err)
	}
	os.WriteFile(filepath.Join(p.Version("1.0.0"), "model.bin"), []byte("detector weighTs"), 0o600)
	if err := CheckActive(ctx, p, "1.0.0", fs, Policy{Now: now}); err != nil {
		t.Fatalf("size check: %v", err)
	}
	later := now.Add(time.Hour)
	if err := CheckActive(ctx, p, "1.0.0", fs, Policy{Always: true, Now: later}); codes.CodeOf(err) != codes.HashMismatch {
		t.Fatalf("full re-hash: %v", err)
	}
	if data2, _ := os.ReadFile(filepath.Join(p.Dir, RehashFile)); string(data2) != string(data) {
		t.Fatalf("a failed re-hash was recorded: %s", data2)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := CheckActive(cctx, p, "1.0.0", fs, Policy{Always: true, Now: later}); codes.CodeOf(err) != codes.Cancelled {
		t.Fatalf("stopped: %v", err)
	}
}

func TestModelOpen(t *testing.T) {
	p, fs := installedVersion(t)
	m := New(safefs.New(filepath.Dir(filepath.Dir(p.Dir))), "det", "1.0.0", p.Version("1.0.0"), fs)
	if len(m.Files) != 1 || m.Files[0].Name != "model.bin" || m.Files[0].Length != 16 || len(m.Files[0].SHA256) != 64 {
		t.Fatalf("%+v", m.Files)
	}
	rc, err := m.Open("model.bin")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if rc, err := m.Open("x"); rc != nil || codes.CodeOf(err) != codes.TargetNotFound {
		t.Fatalf("%v %v", rc, err)
	}
	os.Remove(filepath.Join(p.Version("1.0.0"), "model.bin"))
	if rc, err := m.Open("model.bin"); rc != nil || codes.CodeOf(err) != codes.HashMismatch {
		t.Fatalf("%v %v", rc, err)
	}
}

// FuzzParseRecord: rehash.json is untrusted; parsing never panics, and
// what it accepts has a valid version and time and round-trips.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"version": "1.0.0", "time": "2026-12-04T11:00:00Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, tm, err := ParseRecord(data)
		if err != nil {
			return
		}
		if len(data) > MaxRehashFile {
			t.Fatal("accepted an oversized record")
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, tm2, err := ParseRecord(again)
		if err != nil || r2 != r || !tm2.Equal(tm) {
			t.Fatalf("%q accepted as %+v, which reads back as %+v, %v", data, r, r2, err)
		}
	})
}
