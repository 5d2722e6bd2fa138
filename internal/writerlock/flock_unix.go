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

// unFlock releases the lock (see Release).
func unFlock(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
