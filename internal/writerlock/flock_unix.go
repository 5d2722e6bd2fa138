//go:build unix

package writerlock

import (
	"errors"
	"os"
	"syscall"
)

// tryFlock takes an exclusive advisory lock on an OS file. The kernel
// releases it when the process dies, so a killed holder never leaves the
// directory locked.
func tryFlock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// unFlock releases the lock before the file is closed: a child forked by
// another goroutine holds a copy of the descriptor until it execs, and
// flock belongs to the open file description, so closing alone would keep
// the directory locked until that copy is gone.
func unFlock(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
