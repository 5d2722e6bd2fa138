package repostore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/storage"
	"github.com/spf13/afero"
)

// Objects up to cacheObject bytes are read whole and kept in memory from
// their first read on (a session must see the same bytes when it reads
// an object again: see openObject), up to cacheTotal bytes in all;
// larger objects are streamed with ranged reads, so a model is never
// held in memory.
const (
	cacheObject = 4 << 20
	cacheTotal  = 32 << 20
)

// sessionFs is the afero.Fs of a Session. The repository is the
// directory root (inside the session's scratch directory, so that its path
// is the session's own): a name under it is the session's own file when
// that exists locally (written in this session), else the backend's
// object of that name (unless the session removed it). A name outside
// root is the OS filesystem's: a bundle to publish, a key file.
type sessionFs struct {
	ctx     context.Context
	b       storage.Backend
	root    string
	scratch afero.Fs // the OS filesystem
	live    bool     // no caching: every read sees the backend's current object
	// cacheLimit bounds the bytes cached (cacheTotal; tests lower it).
	cacheLimit int64

	mu         sync.Mutex
	attrs      map[string]*storage.Attrs // Stat results; nil value: absent
	isDir      map[string]bool
	data       map[string][]byte // cached contents of small objects
	cached     int64
	firstETags map[string]string // ETag at the first read; "" = absent
	readETags  map[string]string // ETag of the bytes first read (openObject)
	deleted    map[string]bool   // backend objects the session removed
}

func newSessionFs(ctx context.Context, b storage.Backend, root string) *sessionFs {
	return &sessionFs{ctx: ctx, b: b, root: filepath.Clean(root), scratch: afero.NewOsFs(), cacheLimit: cacheTotal, attrs: map[string]*storage.Attrs{},
		isDir: map[string]bool{}, data: map[string][]byte{}, firstETags: map[string]string{}, readETags: map[string]string{}, deleted: map[string]bool{}}
}

// object is the backend name of a path under root ("" for root itself);
// ok is false for a path outside the repository.
func (s *sessionFs) object(name string) (obj string, ok bool) {
	c := filepath.Clean(name)
	if c == s.root {
		return "", true
	}
	rel, found := strings.CutPrefix(c, s.root+string(filepath.Separator))
	return filepath.ToSlash(rel), found
}

// local is the scratch path of backend name obj.
func (s *sessionFs) local(obj string) string {
	return filepath.Join(s.root, filepath.FromSlash(obj))
}

// recordETag remembers the first ETag the session saw for obj ("" when it
// did not exist): the compare-and-swap condition of its overwrite.
func (s *sessionFs) recordETag(obj string, a *storage.Attrs) {
	if _, seen := s.firstETags[obj]; seen {
		return
	}
	if a == nil {
		s.firstETags[obj] = ""
	} else {
		s.firstETags[obj] = a.ETag
	}
}

// stat returns the backend's attributes of obj (nil when absent), cached.
func (s *sessionFs) stat(obj string) (*storage.Attrs, error) {
	s.mu.Lock()
	if a, ok := s.attrs[obj]; ok && !s.live {
		s.mu.Unlock()
		return a, nil
	}
	s.mu.Unlock()
	a, err := s.b.Stat(s.ctx, obj)
	var ap *storage.Attrs
	switch {
	case err == nil:
		ap = &a
	case !errors.Is(err, storage.ErrNotExist):
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.attrs[obj]; ok && !s.live {
		return prev, nil
	}
	s.attrs[obj] = ap
	s.recordETag(obj, ap)
	return ap, nil
}

// recordAttrs remembers what a read without a Stat first learnt of obj:
// its attributes a (nil: absent), as stat records them.
func (s *sessionFs) recordAttrs(obj string, a *storage.Attrs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, known := s.attrs[obj]; !known || s.live {
		s.attrs[obj] = a
	}
	s.recordETag(obj, a)
}

// errStop ends a listing early.
var errStop = errors.New("stop")

// dirExists reports whether any backend object lies under obj/: a
// listing of at most one name. metadata/ is flat, so a missing name in
// it (a writer probing N+1.snapshot.json) costs no listing.
func (s *sessionFs) dirExists(obj string) (bool, error) {
	if obj == "" {
		return true, nil
	}
	if strings.HasPrefix(obj, repofiles.MetadataDir+"/") {
		return false, nil
	}
	s.mu.Lock()
	d, ok := s.isDir[obj]
	s.mu.Unlock()
	if ok && !s.live {
		return d, nil
	}
	found := false
	err := s.b.List(s.ctx, obj+"/", func(string, storage.Attrs) error { found = true; return errStop })
	if err != nil && !errors.Is(err, errStop) {
		return false, err
	}
	s.mu.Lock()
	s.isDir[obj] = found
	s.mu.Unlock()
	return found, nil
}

func (s *sessionFs) isDeleted(obj string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleted[obj]
}

func (s *sessionFs) exists(name string) bool {
	_, ok := s.inScratch(name)
	return ok
}

func (s *sessionFs) inScratch(name string) (os.FileInfo, bool) {
	fi, err := s.scratch.Stat(name)
	return fi, err == nil
}

func notExist(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

// Stat implements afero.Fs.
func (s *sessionFs) Stat(name string) (os.FileInfo, error) {
	obj, in := s.object(name)
	if !in {
		return s.scratch.Stat(name)
	}
	if fi, ok := s.inScratch(name); ok {
		return fi, nil
	}
	if hidden(obj) { // temporary files and locks exist only locally
		return nil, notExist("stat", name)
	}
	if !s.isDeleted(obj) && obj != "" {
		a, err := s.stat(obj)
		if err != nil {
			return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
		}
		if a != nil {
			return objectInfo{name: path.Base(obj), size: a.Size}, nil
		}
	}
	d, err := s.dirExists(obj)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if d {
		return objectInfo{name: filepath.Base(name), dir: true}, nil
	}
	return nil, notExist("stat", name)
}

// Open implements afero.Fs.
func (s *sessionFs) Open(name string) (afero.File, error) {
	obj, in := s.object(name)
	if !in {
		return s.scratch.Open(name)
	}
	if fi, ok := s.inScratch(name); ok && !fi.IsDir() {
		return s.scratch.Open(name)
	}
	if s.readWithoutStat(obj) {
		return s.openObject(name, obj, sizeUnknown)
	}
	fi, err := s.Stat(name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return &dirFile{s: s, name: name, obj: obj, info: fi}, nil
	}
	return s.openObject(name, obj, fi.Size())
}

// sizeUnknown is openObject's size of an object not stated first.
const sizeUnknown = -1

// readWithoutStat reports whether Open may read obj without asking its
// attributes first: a name in metadata/ (flat, so never a directory)
// whose attributes the session does not know yet. The read's answer
// gives them (size, ETag, or absence), so the request before it would
// be one more round trip per role (about 110 of them in an add-target
// into hash bins).
func (s *sessionFs) readWithoutStat(obj string) bool {
	if !strings.HasPrefix(obj, repofiles.MetadataDir+"/") || hidden(obj) || s.isDeleted(obj) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, known := s.attrs[obj]
	return !known
}

// openObject opens a backend object: from the cache or read whole when
// small, else streamed. size is what a Stat said, or sizeUnknown.
func (s *sessionFs) openObject(name, obj string, size int64) (afero.File, error) {
	s.mu.Lock()
	data, ok := s.data[obj]
	s.mu.Unlock()
	if ok && !s.live {
		return newBytesFile(name, data), nil
	}
	if size > cacheObject {
		return &streamFile{objectFile: objectFile{name: name, size: size}, s: s, obj: obj}, nil
	}
	rc, a, err := s.b.Open(s.ctx, obj)
	if errors.Is(err, storage.ErrNotExist) {
		if size == sizeUnknown {
			s.recordAttrs(obj, nil)
		}
		return nil, notExist("open", name)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer rc.Close()
	if size == sizeUnknown && a.Size > cacheObject {
		// Large after all: streamed with ranged reads, its attributes
		// (and the ETag of its compare-and-swap) those of this read.
		s.recordAttrs(obj, &a)
		return &streamFile{objectFile: objectFile{name: name, size: a.Size}, s: s, obj: obj}, nil
	}
	data, err = readSmall(rc, a.Size)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.data[obj]; ok && !s.live {
		return newBytesFile(name, prev), nil
	}
	// The bytes and the ETag must be the same version: a Stat before
	// and an Open after another publisher's write would pair them wrongly.
	// An object read again (not cached) must still be the one read first:
	// the session built on those bytes, and its compare-and-swap must not
	// overwrite what another publisher wrote in between.
	first, readBefore := s.readETags[obj]
	if readBefore && first != a.ETag && !s.live {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w: changed by another publisher during this session", ErrConflict)}
	}
	s.readETags[obj] = a.ETag
	s.attrs[obj] = &a
	s.firstETags[obj] = a.ETag
	// Kept from the first read: a session reads some objects twice (a
	// writer reads a role again; a roll-forward reads timestamp.json
	// before and while it re-signs), and the second read must see the
	// bytes of the first. Read again from the store, another publisher's
	// write in between would be a conflict that callers report as
	// invalid stored metadata instead of retrying (a lost publication in
	// TestConcurrentPublishersS3 when objects read once were not kept).
	if s.cached+int64(len(data)) <= s.cacheLimit && !s.live {
		s.data[obj] = data
		s.cached += int64(len(data))
	}
	return newBytesFile(name, data), nil
}

const writeFlags = os.O_WRONLY | os.O_RDWR | os.O_CREATE | os.O_TRUNC | os.O_APPEND

// OpenFile implements afero.Fs: a write goes to the scratch directory.
func (s *sessionFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if _, in := s.object(name); !in {
		return s.scratch.OpenFile(name, flag, perm)
	}
	if flag&writeFlags == 0 {
		return s.Open(name)
	}
	if _, ok := s.inScratch(name); !ok {
		fi, err := s.Stat(name)
		switch {
		case err == nil && flag&os.O_EXCL != 0:
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
		case err == nil && fi.IsDir():
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
		case err == nil && flag&os.O_TRUNC == 0:
			if err := s.copyToScratch(name); err != nil {
				return nil, err
			}
		case err != nil && flag&os.O_CREATE == 0:
			return nil, err
		}
		if err := s.scratch.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return nil, err
		}
	}
	f, err := s.scratch.OpenFile(name, flag, perm)
	if err == nil {
		s.undelete(name)
	}
	return f, err
}

func (s *sessionFs) undelete(name string) {
	obj, _ := s.object(name)
	s.mu.Lock()
	delete(s.deleted, obj)
	s.mu.Unlock()
}

// copyToScratch copies a backend object into the scratch directory, for a
// write that keeps its content.
func (s *sessionFs) copyToScratch(name string) error {
	src, err := s.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := s.scratch.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	dst, err := s.scratch.Create(name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// Create implements afero.Fs.
func (s *sessionFs) Create(name string) (afero.File, error) {
	return s.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// Mkdir implements afero.Fs.
func (s *sessionFs) Mkdir(name string, perm os.FileMode) error {
	if _, in := s.object(name); !in {
		return s.scratch.Mkdir(name, perm)
	}
	if _, err := s.Stat(name); err == nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrExist}
	}
	return s.scratch.MkdirAll(name, perm)
}

// MkdirAll implements afero.Fs.
func (s *sessionFs) MkdirAll(name string, perm os.FileMode) error {
	return s.scratch.MkdirAll(name, perm)
}

// Remove implements afero.Fs: a backend object is deleted when the
// session commits.
func (s *sessionFs) Remove(name string) error {
	obj, in := s.object(name)
	if !in {
		return s.scratch.Remove(name)
	}
	fi, inScratch := s.inScratch(name)
	if inScratch {
		if err := s.scratch.Remove(name); err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
	}
	if obj == "" {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.EPERM}
	}
	a, err := s.stat(obj)
	if err != nil {
		return err
	}
	if a == nil || s.isDeleted(obj) {
		if inScratch {
			return nil
		}
		return notExist("remove", name)
	}
	s.mu.Lock()
	s.deleted[obj] = true
	s.mu.Unlock()
	return nil
}

// RemoveAll implements afero.Fs for what writers remove: files and the
// directories they made in this session. Removing a stored directory
// would take a listing and many deletions; it is refused.
func (s *sessionFs) RemoveAll(name string) error {
	obj, in := s.object(name)
	if err := s.scratch.RemoveAll(name); err != nil || !in {
		return err
	}
	if a, err := s.stat(obj); err != nil || a != nil {
		if err != nil {
			return err
		}
		return s.Remove(name)
	}
	if d, err := s.dirExists(obj); err != nil || d {
		if err != nil {
			return err
		}
		return &fs.PathError{Op: "removeall", Path: name, Err: errors.New("removing a stored directory is not supported")}
	}
	return nil
}

// Rename implements afero.Fs for files written in this session (atomic
// writes rename a temporary file into place).
func (s *sessionFs) Rename(oldname, newname string) error {
	_, oldIn := s.object(oldname)
	_, newIn := s.object(newname)
	if !oldIn && !newIn {
		return s.scratch.Rename(oldname, newname)
	}
	if _, ok := s.inScratch(oldname); !ok || !oldIn || !newIn {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: errors.New("only files written in this session can be renamed")}
	}
	if err := s.scratch.MkdirAll(filepath.Dir(newname), 0o755); err != nil {
		return err
	}
	if err := s.scratch.Rename(oldname, newname); err != nil {
		return err
	}
	s.undelete(newname)
	return nil
}

// Chmod, Chown and Chtimes change the session's own files; stored objects
// have no modes, owners or times.
func (s *sessionFs) Chmod(name string, mode os.FileMode) error {
	if _, in := s.object(name); !in || s.exists(name) {
		return s.scratch.Chmod(name, mode)
	}
	_, err := s.Stat(name)
	return err
}

// Chown implements afero.Fs.
func (s *sessionFs) Chown(name string, uid, gid int) error {
	if _, in := s.object(name); !in || s.exists(name) {
		return s.scratch.Chown(name, uid, gid)
	}
	_, err := s.Stat(name)
	return err
}

// Chtimes implements afero.Fs.
func (s *sessionFs) Chtimes(name string, atime, mtime time.Time) error {
	if _, in := s.object(name); !in || s.exists(name) {
		return s.scratch.Chtimes(name, atime, mtime)
	}
	_, err := s.Stat(name)
	return err
}

// LockFree tells writerlock that a session needs no writer lock: it is
// one publisher's private view, committed with conditional writes.
func (s *sessionFs) LockFree() bool { return true }

// TempFilesVanish tells atomicfs.RemoveStale that a session has no stale
// temporary files to remove (none is ever uploaded), so it lists nothing.
func (s *sessionFs) TempFilesVanish() bool { return true }

// Name implements afero.Fs.
func (s *sessionFs) Name() string { return "repostore(" + s.b.String() + ")" }

// readDir lists the directory obj: the session's own entries over the
// backend's (a listing: never in a writer's hot path).
func (s *sessionFs) readDir(name, obj string) ([]os.FileInfo, error) {
	byName := map[string]os.FileInfo{}
	prefix := ""
	if obj != "" {
		prefix = obj + "/"
	}
	err := s.b.List(s.ctx, prefix, func(n string, a storage.Attrs) error {
		rest := strings.TrimPrefix(n, prefix)
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			byName[rest[:i]] = objectInfo{name: rest[:i], dir: true}
		} else if !s.isDeleted(n) {
			byName[rest] = objectInfo{name: rest, size: a.Size}
		}
		return nil
	})
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	if own, err := afero.ReadDir(s.scratch, name); err == nil {
		for _, fi := range own {
			byName[fi.Name()] = fi
		}
	}
	out := make([]os.FileInfo, 0, len(byName))
	for _, fi := range byName {
		out = append(out, fi)
	}
	return out, nil
}
