package anti_rollback

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLinksNeverFollowed: a store copy or the store directory replaced by
// a symbolic link (to a copy with a higher or a lower floor, or to any
// file), or a copy that is a FIFO, makes Floor and Raise fail (a damaged
// store is not an empty store), without reading through the link and
// without writing anything outside the store; a huge copy is refused
// after a bounded read.
func TestLinksNeverFollowed(t *testing.T) {
	t.Parallel()
	rec := `{"model_id":"det","floor":"9.0.0"}` + "\n"
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, s *FileStore, outside string)
	}{
		{"main copy", func(t *testing.T, s *FileStore, outside string) {
			os.Remove(filepath.Join(s.Dir, "det.json"))
			mustSymlink(t, filepath.Join(outside, "det.json"), filepath.Join(s.Dir, "det.json"))
		}},
		{"backup copy", func(t *testing.T, s *FileStore, outside string) {
			os.Remove(filepath.Join(s.Dir, "det.json.bak"))
			mustSymlink(t, filepath.Join(outside, "det.json"), filepath.Join(s.Dir, "det.json.bak"))
		}},
		{"store directory", func(t *testing.T, s *FileStore, outside string) {
			os.RemoveAll(s.Dir)
			mustSymlink(t, outside, s.Dir)
		}},
		{"FIFO", func(t *testing.T, s *FileStore, outside string) {
			os.Remove(filepath.Join(s.Dir, "det.json"))
			if err := syscall.Mkfifo(filepath.Join(s.Dir, "det.json"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if err := s.Raise("det", ver(t, "1.0.0")); err != nil {
				t.Fatal(err)
			}
			outside := t.TempDir()
			if err := os.WriteFile(filepath.Join(outside, "det.json"), []byte(rec), 0o600); err != nil {
				t.Fatal(err)
			}
			tc.plant(t, s, outside)
			if _, _, err := s.Floor("det"); err == nil {
				t.Fatal("Floor accepted the store")
			}
			if err := s.Raise("det", ver(t, "2.0.0")); err == nil {
				t.Fatal("Raise accepted the store")
			}
			if got, _ := os.ReadFile(filepath.Join(outside, "det.json")); string(got) != rec {
				t.Fatalf("the file outside changed: %q", got)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 1 {
				t.Fatalf("outside holds %d entries", len(entries))
			}
		})
	}
	t.Run("huge copy", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		writeCopy(t, s, "det.json", `{"model_id":"det","floor":"1.0.0","pad":"`+strings.Repeat("x", 64<<20)+`"}`)
		if _, _, err := s.Floor("det"); err == nil || !strings.Contains(err.Error(), "too large") {
			t.Fatalf("Floor: %v", err)
		}
	})
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
