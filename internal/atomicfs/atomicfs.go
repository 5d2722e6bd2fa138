// Package atomicfs writes files so that a crash at any instant leaves either
// the old content or the new content under a name, never a torn file.
//
// Every write goes to a temporary file in the destination directory, is
// fsynced, renamed over the final name, and the directory is fsynced so the
// rename itself survives a power cut. Temporary names start with TempPrefix so
// that readers and cleanup code can recognise and ignore them.
package atomicfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/directio"
	"github.com/spf13/afero"
)

// TempPrefix starts the name of every temporary file this package creates.
const TempPrefix = ".tmp-"

// File is a temporary file that becomes visible under its final name only
// when Commit succeeds.
type File struct {
	fs     afero.Fs
	f      afero.File
	name   string
	done   bool
	direct *directio.Writer // set by CreateLarge where direct I/O works
}

// Create opens a new temporary file in dir. The caller writes to it and
// then calls Commit or Abort (Abort after Commit is a no-op, so
// `defer f.Abort()` is the idiom).
func Create(fs afero.Fs, dir string, perm os.FileMode) (*File, error) {
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := afero.TempFile(fs, dir, TempPrefix+"*")
	if err != nil {
		return nil, err
	}
	if err := fs.Chmod(f.Name(), perm); err != nil {
		f.Close()
		fs.Remove(f.Name())
		return nil, err
	}
	return &File{fs: fs, f: f, name: f.Name()}, nil
}

// CreateLarge is Create for files of model size written once from start to
// end: on the OS filesystem it writes through direct I/O where available
// (see package directio). Use only Write on the result.
func CreateLarge(fs afero.Fs, dir string, perm os.FileMode) (*File, error) {
	t, err := Create(fs, dir, perm)
	if err != nil {
		return nil, err
	}
	if osf, ok := t.f.(*os.File); ok {
		t.direct = directio.Open(t.name, osf, 0)
	}
	return t, nil
}

// Write appends p to the temporary file.
func (t *File) Write(p []byte) (int, error) {
	if t.direct != nil {
		return t.direct.Write(p)
	}
	return t.f.Write(p)
}

// Name is the temporary file's current path.
func (t *File) Name() string { return t.name }

// Commit fsyncs the file, renames it to final and fsyncs the directory.
// final must be in the same directory as the temporary file.
func (t *File) Commit(final string) error {
	if t.done {
		return errors.New("atomicfs: file already committed or aborted")
	}
	if err := t.syncClose(final); err != nil {
		return err
	}
	if err := t.fs.Rename(t.name, final); err != nil {
		t.fs.Remove(t.name)
		return err
	}
	crashpoint.Hit("atomicfs.renamed")
	return SyncDir(t.fs, filepath.Dir(final))
}

// CommitNew is Commit for a name that must not exist: the file is
// fsynced and hard-linked to final, which, unlike a rename, fails if
// final exists (an error wrapping fs.ErrExist; nothing is replaced, even
// a file another process made after the caller looked); then the
// temporary name is removed and the directory fsynced. The OS filesystem
// only (else an error wrapping ErrNoLink).
func (t *File) CommitNew(final string) error {
	if _, ok := t.fs.(*afero.OsFs); !ok {
		t.Abort()
		return fmt.Errorf("atomicfs: %w: not the OS filesystem", ErrNoLink)
	}
	if err := t.syncClose(final); err != nil {
		return err
	}
	err := os.Link(t.name, final)
	t.fs.Remove(t.name)
	if err != nil {
		return err
	}
	return SyncDir(t.fs, filepath.Dir(final))
}

// syncClose checks that final is in the temporary file's directory,
// fsyncs and closes the file; on an error it is removed.
func (t *File) syncClose(final string) error {
	if filepath.Dir(final) != filepath.Dir(t.name) {
		return fmt.Errorf("atomicfs: %s is not in the directory of %s", final, t.name)
	}
	if t.direct != nil {
		err := t.direct.Close()
		t.direct = nil
		if err != nil {
			t.Abort()
			return err
		}
	}
	if err := t.f.Sync(); err != nil {
		t.Abort()
		return err
	}
	crashpoint.Hit("atomicfs.synced")
	t.done = true
	if err := t.f.Close(); err != nil {
		t.fs.Remove(t.name)
		return err
	}
	return nil
}

// Abort closes and removes the temporary file.
func (t *File) Abort() {
	if t.done {
		return
	}
	t.done = true
	if t.direct != nil {
		t.direct.Close()
	}
	t.f.Close()
	t.fs.Remove(t.name)
}

// WriteFile atomically replaces name with data.
func WriteFile(fs afero.Fs, name string, data []byte, perm os.FileMode) error {
	t, err := Create(fs, filepath.Dir(name), perm)
	if err != nil {
		return err
	}
	defer t.Abort()
	if _, err := t.Write(data); err != nil {
		return err
	}
	return t.Commit(name)
}

// SyncDir fsyncs a directory so that renames and creations in it are
// durable. Filesystems that cannot sync directories (in-memory ones) are
// not an error.
func SyncDir(fs afero.Fs, dir string) error {
	d, err := fs.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		// Some platforms return EINVAL for fsync on a directory; the rename
		// is still ordered after the file's fsync there.
		return err
	}
	return nil
}

// IsTemp reports whether a base name is one of this package's temporary files.
func IsTemp(name string) bool {
	return strings.HasPrefix(path.Base(filepath.ToSlash(name)), TempPrefix)
}

// RemoveStale deletes temporary files left in dir (recursively) by a process
// that died before Commit or Abort. Call it only while holding whatever lock
// keeps other writers out. On a filesystem whose temporary files cannot
// outlive the process (a repostore session: they are never uploaded) it
// does nothing, and lists nothing.
func RemoveStale(fs afero.Fs, dir string) error {
	if v, ok := fs.(interface{ TempFilesVanish() bool }); ok && v.TempFilesVanish() {
		return nil
	}
	return afero.Walk(fs, dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !info.IsDir() && IsTemp(info.Name()) {
			return fs.Remove(p)
		}
		return nil
	})
}
