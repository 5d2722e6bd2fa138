package writerlock

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spf13/afero"
)

// memLocks serialises writers inside one process (and stands in for flock
// on filesystems that are not the OS's).
var memLocks sync.Map // path -> *sync.Mutex

// Acquire takes the writer lock file p on fsys, waiting up to timeout, and
// returns its release. Another holder past the timeout is a *BusyError
// that wraps busy (the caller's sentinel, e.g. repo.ErrLocked).
func Acquire(fsys afero.Fs, p string, timeout time.Duration, busy error) (func(), error) {
	muAny, _ := memLocks.LoadOrStore(p, &sync.Mutex{})
	mu := muAny.(*sync.Mutex)
	deadline := time.Now().Add(timeout)
	for !mu.TryLock() {
		if time.Now().After(deadline) {
			return nil, busyError(fsys, p, busy)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f, err := fsys.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		mu.Unlock()
		return nil, err
	}
	if osf, ok := f.(*os.File); ok {
		for {
			got, err := tryFlock(osf)
			if err != nil {
				f.Close()
				mu.Unlock()
				return nil, err
			}
			if got {
				break
			}
			if time.Now().After(deadline) {
				f.Close()
				mu.Unlock()
				return nil, busyError(fsys, p, busy)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	WritePID(f) // for the BUSY message of another writer
	return func() {
		ClearPID(f)
		if osf, ok := f.(*os.File); ok {
			unFlock(osf)
		}
		f.Close()
		mu.Unlock()
	}, nil
}

// busyError names the PID the holder wrote into the lock file.
func busyError(fsys afero.Fs, p string, busy error) error {
	holder := Unknown
	if f, err := fsys.Open(p); err == nil {
		holder = Holder(f)
		f.Close()
	}
	return &BusyError{Err: busy, Path: p, Holder: holder}
}

// BusyError is a lock that another writer held until the timeout: Err (the
// caller's sentinel) with the lock file and its holder ("PID 1234"). Its
// code is BUSY: run again later.
type BusyError struct {
	Err          error
	Path, Holder string
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("BUSY: %s (%s holds %s); run again when it has finished", e.Err, e.Holder, e.Path)
}

// Unwrap makes errors.Is(err, the sentinel) hold.
func (e *BusyError) Unwrap() error { return e.Err }

// ErrorCode is the code of the failure in JSON errors.
func (e *BusyError) ErrorCode() string { return "BUSY" }
