//go:build unix

package repo

import (
	"errors"
	"os"
	"syscall"
)

// tryFlock takes an exclusive advisory lock on an OS file. The kernel
// releases it when the process dies, so a killed mrepo never leaves the
// repository locked.
func tryFlock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
