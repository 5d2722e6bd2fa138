package repofiles

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"
)

// statErrFs fails every Stat with an I/O error.
type statErrFs struct{ afero.Fs }

var errIO = errors.New("input/output error")

func (statErrFs) Stat(name string) (fs.FileInfo, error) { return nil, errIO }

func touch(t *testing.T, fsys afero.Fs, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := afero.WriteFile(fsys, filepath.Join("/m", n), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNextVersion: orphans of failed publishers (a delegated role's, with
// an escaped name, or targets') are skipped; a Stat that fails otherwise
// than "does not exist" is an error, not a guess.
func TestNextVersion(t *testing.T) {
	fsys := afero.NewMemMapFs()
	touch(t, fsys, "4.targets.json", "5.targets.json", "3.team%2Fa.json")
	for _, tc := range []struct {
		role      string
		cur, want int64
	}{{"targets", 3, 6}, {"targets", 5, 6}, {"targets", 6, 7}, {"team/a", 2, 4}, {"team/a", 3, 4}, {"snapshot", 1, 2}} {
		if got, err := NextVersion(fsys, "/m", tc.role, tc.cur); err != nil || got != tc.want {
			t.Errorf("NextVersion(%s, %d) = %d, %v; want %d", tc.role, tc.cur, got, err, tc.want)
		}
	}
	if _, err := NextVersion(statErrFs{fsys}, "/m", "targets", 3); !errors.Is(err, ErrStoredMetadata) {
		t.Errorf("NextVersion on a failing Stat: %v", err)
	}
}

// TestLatestRoot: found by probing, for every count of consecutive roots.
func TestLatestRoot(t *testing.T) {
	fsys := afero.NewMemMapFs()
	if _, err := LatestRoot(fsys, "/m"); !errors.Is(err, ErrStoredMetadata) {
		t.Errorf("no root: %v", err)
	}
	for n := int64(1); n <= 40; n++ {
		touch(t, fsys, fmt.Sprintf("%d.root.json", n))
		if got, err := LatestRoot(fsys, "/m"); err != nil || got != n {
			t.Fatalf("%d roots: LatestRoot = %d, %v", n, got, err)
		}
	}
	if _, err := LatestRoot(statErrFs{fsys}, "/m"); err == nil {
		t.Error("a failing Stat was taken for a missing root")
	}
}

// TestProbeBounded: someone who can write to the bucket plants more than
// MaxProbe versioned names past the current version; the writer's probes
// stop there with a stored-metadata error instead of running on.
func TestProbeBounded(t *testing.T) {
	fsys := afero.NewMemMapFs()
	for v := int64(2); v <= 2+MaxProbe; v++ {
		touch(t, fsys, RoleFile("targets", v))
	}
	if _, err := NextVersion(fsys, "/m", "targets", 1); !errors.Is(err, ErrStoredMetadata) {
		t.Errorf("NextVersion past %d planted versions: %v, want ErrStoredMetadata", MaxProbe, err)
	}
	if v, err := NextVersion(fsys, "/m", "targets", 2); err != nil || v != 3+MaxProbe {
		t.Errorf("NextVersion with %d versions to skip: %d, %v", MaxProbe, v, err)
	}
}
