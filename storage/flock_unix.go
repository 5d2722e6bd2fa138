//go:build unix

package storage

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// flock takes f's lock, waiting as long as it takes: holders keep it only
// for a stat and a rename, and the kernel drops it when a holder dies.
func flock(f *os.File, exclusive bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

// funlock releases f's lock before f is closed (a forked child may hold a
// copy of the descriptor; see internal/writerlock.Release).
func funlock(f *os.File) { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN) }

// inode is fi's inode number: a rename of a new file over a name changes it.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
