package targetstore

import (
	"sync"
	"sync/atomic"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// payloadWorkers is how many payload files of a plaintext version are
// stored at once. A bundle of many small files spends its time in opens,
// fsyncs and per-file setup, which overlap (concurrent fsyncs share a
// journal commit); a few large files are bound by the disk, which more
// workers would not speed up. Each worker holds at most one copy's
// buffers (package hashcopy: 4 MiB), so memory stays bounded.
const payloadWorkers = 4

// putPlainFiles stores the payload files of bundle b, a plaintext
// version, as PutBundleFile does one, several at once (payloadWorkers),
// and returns their targets and reuse reports in b.Files order. The
// copies are committed as one atomicfs.Batch: each file fsynced, then all
// renamed, then their directory fsynced once, before this returns (and so
// before any metadata can list them). On an error nothing new is named
// but links to reused files, which the caller's UndoNewDirs removes; the
// error is the one the first failing file in b.Files order gives, as a
// sequential copy would report it.
func (s Store) putPlainFiles(b *Bundle, pub Published, progress func(file string, done, total int64)) ([]*metadata.TargetFiles, []*Reused, error) {
	n := len(b.Files)
	tfs, rs, errs := make([]*metadata.TargetFiles, n), make([]*Reused, n), make([]error, n)
	if progress != nil {
		var mu sync.Mutex
		p := progress
		progress = func(file string, done, total int64) {
			mu.Lock()
			defer mu.Unlock()
			p(file, done, total)
		}
	}
	batch := atomicfs.NewBatch(s.Fs)
	// Files are taken in order; after a failure no new one is started.
	// Every file before the failing one was taken already and completes,
	// so the first error in order is found whichever worker failed first.
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(payloadWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				tfs[i], rs[i], errs[i] = s.putBundleFileIn(b, b.Files[i], progress, pub, batch)
				if errs[i] != nil {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			batch.Abort()
			return nil, nil, err
		}
	}
	if err := batch.Commit(); err != nil {
		return nil, nil, err
	}
	return tfs, rs, nil
}
