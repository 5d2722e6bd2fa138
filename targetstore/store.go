package targetstore

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/hashcopy"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Store is the target files of one repository: the bytes under
// Dir/targets/, each stored under its consistent-snapshot name
// <dir>/<sha256>.<file> (repofiles.ConsistentName). Files are written
// once, through a temporary file that gets its name only when complete
// and checked, and never changed after.
type Store struct {
	Fs afero.Fs
	// Dir is the repository directory (not its targets/ subdirectory).
	Dir string
}

// path is where the bytes of targetPath with SHA-256 sha are stored.
func (s Store) path(targetPath string, sha []byte) string {
	return filepath.Join(s.Dir, repofiles.TargetsDir, filepath.FromSlash(repofiles.ConsistentName(targetPath, sha)))
}

// dir is the directory that holds the files of targetPath.
func (s Store) dir(targetPath string) string {
	return filepath.Join(s.Dir, repofiles.TargetsDir, filepath.FromSlash(path.Dir(targetPath)))
}

// Put copies src into the store as targetPath, hashing while it writes,
// and returns its length and SHA-256 as target metadata (without custom
// metadata). If want (the bundle manifest's entry) gives a size or
// SHA-256, a copy that disagrees is discarded before it gets a name
// (ErrBundle). progress, if set, is called with the bytes copied so far.
func (s Store) Put(targetPath string, src io.Reader, progress func(done int64), want *targets.FileEntry) (*metadata.TargetFiles, error) {
	return s.put(targetPath, src, -1, progress, want, nil, nil)
}

// put is Put; size is src's expected length (-1: unknown), for the choice
// of direct I/O. named, if set, is called with the copy's length and
// SHA-256 once they are checked, and returns true when it gave the target
// its name itself (a link to the same bytes): the copy is then dropped.
// With a batch, the copy is added to it (named by its Commit) instead of
// committed on its own.
func (s Store) put(targetPath string, src io.Reader, size int64, progress func(done int64), want *targets.FileEntry, named func(n int64, sum []byte) bool, batch *atomicfs.Batch) (*metadata.TargetFiles, error) {
	tmp, err := atomicfs.CreateSized(s.Fs, s.dir(targetPath), 0o644, size)
	if err != nil {
		return nil, err
	}
	defer tmp.Abort()
	n, sum, err := hashcopy.Copy(tmp, src, -1, progress)
	if err != nil {
		return nil, fmt.Errorf("copying %s: %w", targetPath, err)
	}
	if err := checkWant(path.Base(targetPath), n, sum[:], want); err != nil {
		return nil, err
	}
	if named == nil || !named(n, sum[:]) {
		final := s.path(targetPath, sum[:])
		if batch != nil {
			err = batch.Add(tmp, final)
		} else {
			err = tmp.Commit(final)
		}
		if err != nil {
			return nil, err
		}
	}
	return &metadata.TargetFiles{Length: n, Hashes: metadata.Hashes{"sha256": sum[:]}, Path: targetPath}, nil
}

// PutBundleFile streams the payload file name of bundle b into the store
// as its target (targets.TargetPath), checked against the manifest's
// entry for it. The file is opened without following symlinks, so one
// swapped in since ReadBundle checked it is refused. progress, if set, is
// called with the file's name, the bytes copied so far and its size.
//
// A file whose bytes (SHA-256 and length) pub lists as published for the
// model, under any version and name, is not stored again: its
// consistent-snapshot name becomes a hard link to the stored file, and
// the result says so (Reused; nil for a file stored as usual). When the
// bundle manifest declares the file's size and SHA-256, such a file is
// only hashed, never written; otherwise it is copied while hashed as any
// file, and the copy dropped for the link. Where links are impossible
// the file is stored as a copy (Reused.LinkedBytes 0).
func (s Store) PutBundleFile(b *Bundle, name string, progress func(file string, done, total int64), pub Published) (*metadata.TargetFiles, *Reused, error) {
	return s.putBundleFileIn(b, name, progress, pub, nil)
}

// putBundleFileIn is PutBundleFile, the copy added to batch if set.
func (s Store) putBundleFileIn(b *Bundle, name string, progress func(file string, done, total int64), pub Published, batch *atomicfs.Batch) (*metadata.TargetFiles, *Reused, error) {
	src, size, cb, err := s.openBundleFile(b, name, progress)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	return s.putBundleFile(b, name, src, size, cb, pub, batch)
}

// Open opens the stored bytes of a target, found by its path and signed
// SHA-256. It does not check them: readers that must trust them compare
// lengths and hashes (as PutDeltas does through the patch it checks).
func (s Store) Open(tf *metadata.TargetFiles) (afero.File, error) {
	f, err := s.Fs.Open(s.path(tf.Path, tf.Hashes["sha256"]))
	if err != nil {
		return nil, fmt.Errorf("stored target %s: %w", tf.Path, err)
	}
	return f, nil
}

// UndoNewDirs returns a function that removes the outermost directory on
// the way to targetDir (a slash-separated directory of target paths, such
// as targets.TargetDir) that does not exist now, with everything stored
// in it since; it does nothing if targetDir exists. A publication that
// fails after storing some of its files calls it to leave the store as
// it found it.
func (s Store) UndoNewDirs(targetDir string) (undo func()) {
	p := filepath.Join(s.Dir, repofiles.TargetsDir)
	for _, part := range strings.Split(targetDir, "/") {
		p = filepath.Join(p, part)
		if _, err := s.Fs.Stat(p); os.IsNotExist(err) {
			created := p
			return func() { s.Fs.RemoveAll(created) }
		}
	}
	return func() {}
}
