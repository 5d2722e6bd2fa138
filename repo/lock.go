package repo

import (
	"path/filepath"

	"github.com/edgetuf/edgetuf/internal/writerlock"
)

// lock takes the repository's writer lock, waiting up to r.LockTimeout.
// Writers are add-target, snapshot and timestamp: without the lock a cron
// timestamp could publish over a concurrent add-target and drop it. A
// holder past the timeout is a *writerlock.BusyError wrapping ErrLocked.
func (r *Repository) lock() (func(), error) {
	return writerlock.Acquire(r.fs, filepath.Join(r.dir, lockFile), r.LockTimeout, ErrLocked)
}
