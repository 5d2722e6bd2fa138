//go:build linux

package devstate

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// dupOf duplicates the process's descriptor for path, as a child forked
// by another goroutine does until it execs.
func dupOf(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || target != path {
			continue
		}
		fd, _ := strconv.Atoi(e.Name())
		dup, err := syscall.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		return dup
	}
	t.Fatalf("no descriptor open for %s", path)
	return -1
}

// TestLockReleasedDespiteInheritedCopy: releasing the state lock frees it
// even while a copy of its descriptor lives on (a child forked by another
// goroutine that has not exec'd yet). Closing alone would not: this was a
// rare "another mclient process holds state/lock" under parallel tests.
func TestLockReleasedDespiteInheritedCopy(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	dup := dupOf(t, filepath.Join(dir, LockFile))
	defer syscall.Close(dup)
	unlock()
	unlock2, err := Lock(dir, 0)
	if err != nil {
		t.Fatalf("relock with an inherited copy still open: %v", err)
	}
	unlock2()
}
