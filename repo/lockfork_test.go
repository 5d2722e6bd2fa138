//go:build linux

package repo

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/spf13/afero"
)

// TestLockReleasedDespiteInheritedCopy: releasing the writer lock frees it
// even while a copy of its descriptor lives on, as in a child forked by
// another goroutine that has not exec'd yet. Closing alone would not, and
// the next writer would fail with ErrLocked.
func TestLockReleasedDespiteInheritedCopy(t *testing.T) {
	dir := t.TempDir()
	r := &Repository{fs: afero.NewOsFs(), dir: dir}
	unlock, err := r.lock()
	if err != nil {
		t.Fatal(err)
	}
	dup := -1
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == filepath.Join(dir, lockFile) {
			fd, _ := strconv.Atoi(e.Name())
			if dup, err = syscall.Dup(fd); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if dup < 0 {
		t.Fatal("lock file not open")
	}
	defer syscall.Close(dup)
	unlock()
	unlock2, err := r.lock()
	if err != nil {
		t.Fatalf("relock with an inherited copy still open: %v", err)
	}
	unlock2()
}
