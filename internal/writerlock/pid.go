// Package writerlock is the writer lock of a directory that several
// processes may write (an mrepo repository, an mclient state directory): an
// advisory flock on a lock file, released by the kernel when the holder
// dies, with the holder's PID written into the file for BUSY messages.
// It never decides anything from the PID.
package writerlock

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// File is a lock file: an *os.File or an afero.File.
type File interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
}

// The PID in a lock file: a process that takes a lock (flock) writes its
// PID into the lock file, so that a second one can name the holder in its
// BUSY message. The PID is for people only: nothing else trusts it (it
// may be stale, missing, or written by anything that can write the file).

// WritePID replaces the content of the locked file f with this process's
// PID. Errors are ignored: the PID is only a hint.
func WritePID(f File) {
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
}

// ClearPID empties the lock file before the lock is released.
func ClearPID(f File) { f.Truncate(0) }

// Holder describes the process that wrote its PID into the lock file f:
// "PID 1234", or "a process whose PID is unknown".
func Holder(f io.ReaderAt) string {
	buf := make([]byte, 24)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return Unknown
	}
	return fmt.Sprintf("PID %d", pid)
}

// Unknown is the holder when the lock file names no PID.
const Unknown = "a process whose PID is unknown"
