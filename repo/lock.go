package repo

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
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
			return nil, fmt.Errorf("%w (%s)", ErrLocked, p)
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
				return nil, fmt.Errorf("%w (%s)", ErrLocked, p)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return func() {
		if osf, ok := f.(*os.File); ok {
			unFlock(osf)
		}
		f.Close()
		mu.Unlock()
	}, nil
}
