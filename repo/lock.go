package repo

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/internal/lockpid"
)

// memLocks serialises writers inside one process (and stands in for flock
// on filesystems that are not the OS's).
var memLocks sync.Map // path -> *sync.Mutex

// lock takes the repository's writer lock, waiting up to r.LockTimeout.
// Writers are add-target, snapshot and timestamp: without the lock a cron
// timestamp could publish over a concurrent add-target and drop it.
func (r *Repository) lock() (func(), error) {
	p := filepath.Join(r.dir, lockFile)
	muAny, _ := memLocks.LoadOrStore(p, &sync.Mutex{})
	mu := muAny.(*sync.Mutex)
	deadline := time.Now().Add(r.LockTimeout)
	for !mu.TryLock() {
		if time.Now().After(deadline) {
			return nil, r.locked(p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f, err := r.fs.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
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
				return nil, r.locked(p)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	lockpid.WritePID(f) // for the BUSY message of another writer
	return func() {
		lockpid.ClearPID(f)
		if osf, ok := f.(*os.File); ok {
			unFlock(osf)
		}
		f.Close()
		mu.Unlock()
	}, nil
}

// locked is the error for a lock that another writer held until the
// timeout: it names the PID the holder wrote into the lock file.
func (r *Repository) locked(p string) error {
	holder := lockpid.Unknown
	if f, err := r.fs.Open(p); err == nil {
		holder = lockpid.Holder(f)
		f.Close()
	}
	return &LockedError{Path: p, Holder: holder}
}

// LockedError is ErrLocked with the lock file and its holder ("PID
// 1234"). Its code is BUSY: the repository is busy, run again later.
type LockedError struct{ Path, Holder string }

func (e *LockedError) Error() string {
	return fmt.Sprintf("BUSY: %s (%s holds %s); run again when it has finished", ErrLocked, e.Holder, e.Path)
}

// Is makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// ErrorCode is the code of the failure in mrepo's JSON errors.
func (e *LockedError) ErrorCode() string { return "BUSY" }
