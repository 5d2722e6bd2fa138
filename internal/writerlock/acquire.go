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
//
// A filesystem that is one publisher's private view (a repostore session,
// which commits with conditional writes instead of a lock) says so with a
// LockFree method returning true: there is nothing to lock.
func Acquire(fsys afero.Fs, p string, timeout time.Duration, busy error) (func(), error) {
	if v, ok := fsys.(interface{ LockFree() bool }); ok && v.LockFree() {
		return func() {}, nil
	}
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
		taken, err := Wait(osf, deadline)
		if err != nil || !taken {
			f.Close()
			mu.Unlock()
			if err != nil {
				return nil, err
			}
			return nil, busyError(fsys, p, busy)
		}
	}
	WritePID(f) // for the BUSY message of another writer
	return func() {
		Release(f)
		f.Close()
		mu.Unlock()
	}, nil
}

// Wait takes an exclusive flock on f, polling until deadline: taken is
// false when another holder kept it past the deadline. The caller then
// writes its PID (WritePID) and, when done, calls Release before closing f.
func Wait(f *os.File, deadline time.Time) (taken bool, err error) {
	for {
		got, err := tryFlock(f)
		if err != nil || got {
			return got, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Release clears the PID and releases the flock of f, before f is closed:
// a child forked by another goroutine (a health check, anything an
// embedding app runs) holds a copy of the descriptor until it execs, and
// flock belongs to the open file description, so Close alone would keep
// the directory locked until that copy is gone.
func Release(f File) {
	ClearPID(f)
	if osf, ok := f.(*os.File); ok {
		unFlock(osf)
	}
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
