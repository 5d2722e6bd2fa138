package atomicfs

import (
	"os"
	"path/filepath"
	"sync"

	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/directio"
	"github.com/spf13/afero"
)

// Batch commits many files with one fsync of each directory instead of one
// per file. Each file is fsynced when it is added, so its bytes are
// durable before it has a name; Commit renames them all, then fsyncs each
// of their directories once. A crash before that fsync may lose some of
// the names, never give one torn bytes: a name that exists after a crash
// holds its complete file. The caller must not refer to the names (write
// metadata that lists them) until Commit has returned: that is the
// guarantee Commit gives to each file.
//
// Add may be called from several goroutines at once; Commit and Abort
// once, after every Add returned.
type Batch struct {
	fs      afero.Fs
	mu      sync.Mutex
	pending []batched
}

type batched struct{ tmp, final string }

// NewBatch starts an empty batch on fs.
func NewBatch(fs afero.Fs) *Batch { return &Batch{fs: fs} }

// Add fsyncs and closes t, to be named final by Commit (final in t's
// directory). On an error t is removed.
func (b *Batch) Add(t *File, final string) error {
	if err := t.syncClose(final); err != nil {
		return err
	}
	b.mu.Lock()
	b.pending = append(b.pending, batched{t.name, final})
	b.mu.Unlock()
	return nil
}

// Commit renames every file added to its final name, in the order added,
// and fsyncs each directory once. On an error the files not yet renamed
// are removed.
func (b *Batch) Commit() error {
	dirs := map[string]bool{}
	for len(b.pending) > 0 {
		p := b.pending[0]
		if err := b.fs.Rename(p.tmp, p.final); err != nil {
			b.Abort()
			return err
		}
		b.pending = b.pending[1:]
		crashpoint.Hit("atomicfs.renamed")
		dirs[filepath.Dir(p.final)] = true
	}
	for dir := range dirs {
		if err := SyncDir(b.fs, dir); err != nil {
			return err
		}
	}
	return nil
}

// Abort removes the files added and not yet renamed.
func (b *Batch) Abort() {
	for _, p := range b.pending {
		b.fs.Remove(p.tmp)
	}
	b.pending = nil
}

// CreateSized is CreateLarge for a file expected to hold size bytes (-1:
// unknown): direct I/O only where the size makes it worthwhile
// (directio.Worthwhile), plain Create otherwise.
func CreateSized(fs afero.Fs, dir string, perm os.FileMode, size int64) (*File, error) {
	if directio.Worthwhile(size) {
		return CreateLarge(fs, dir, perm)
	}
	return Create(fs, dir, perm)
}
