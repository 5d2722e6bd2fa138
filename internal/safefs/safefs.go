//go:build unix

// Package safefs reads and changes the files below a directory without
// ever following a symbolic link below it. Every path is resolved one
// component at a time from a descriptor of the directory (openat with
// O_NOFOLLOW), so a link planted anywhere below the directory, or swapped
// in while an operation runs, makes the operation fail instead of reaching
// a file elsewhere. Renames and removals act on the link itself, never on
// what it points to.
//
// Only regular files and directories are opened. Anything else (a FIFO, a
// socket, a device file) is refused after an lstat, before it is opened,
// and again after the open (O_NONBLOCK, so that a FIFO swapped in between
// cannot block the open), from the descriptor's own fstat.
//
// The directory itself may be reached through links: that is the choice
// of whoever names it. Hard links cannot be told from ordinary files and
// are not detected.
//
// FS implements afero.Fs, so package atomicfs and others can write through
// it; Stat does not follow links (it is Lstat).
package safefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"
)

var (
	// ErrSymlink: a path below the root names a symbolic link, which is
	// not followed.
	ErrSymlink = errors.New("is a symbolic link (not followed)")
	// ErrNotRegular: the path names something other than a regular file
	// (or a directory, where a directory is acceptable): a FIFO, socket or
	// device file.
	ErrNotRegular = errors.New("is not a regular file")
	// ErrNotDir: a path component that must be a directory is not one.
	ErrNotDir = errors.New("is not a directory")
	// ErrOutside: the path is not below the root (or is the root where a
	// file below it is needed).
	ErrOutside = errors.New("is not below the directory it must be in")
	// ErrTooLarge: ReadFile found a file larger than its bound.
	ErrTooLarge = errors.New("is larger than allowed")
)

// FS is the tree below one directory, accessed without following links.
type FS struct{ root string }

// New returns the tree below root. Paths given to its methods are paths
// below root, absolute or relative to the working directory (as with
// package os).
func New(root string) *FS {
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	return &FS{root: filepath.Clean(root)}
}

// Root is the directory FS is rooted at.
func (f *FS) Root() string { return f.root }

// OpenFile opens path, a regular file (or a directory when flag is
// O_RDONLY), never following a link at any component below the directory
// that holds it; the directories above it may be links. For files whose
// parent directory was checked by other means.
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	return New(filepath.Dir(path)).OpenFile(path, flag, perm)
}

// split returns the components of name below the root (none for the root).
func (f *FS) split(name string) (string, []string, error) {
	if abs, err := filepath.Abs(name); err == nil {
		name = abs
	}
	name = filepath.Clean(name)
	rel, err := filepath.Rel(f.root, name)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return name, nil, ErrOutside
	}
	if rel == "." {
		return name, nil, nil
	}
	return name, strings.Split(rel, "/"), nil
}

func perr(op, path string, err error) error { return &fs.PathError{Op: op, Path: path, Err: err} }

func retry[T any](fn func() (T, error)) (T, error) {
	for {
		v, err := fn()
		if err != unix.EINTR {
			return v, err
		}
	}
}

func openat(dirfd int, name string, flag int, perm uint32) (int, error) {
	return retry(func() (int, error) { return unix.Openat(dirfd, name, flag|unix.O_CLOEXEC, perm) })
}

func lstatat(dirfd int, name string, st *unix.Stat_t) error {
	_, err := retry(func() (struct{}, error) {
		return struct{}{}, unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW)
	})
	return err
}

// explain turns the error of an openat with O_NOFOLLOW (ELOOP, or ENOTDIR,
// EMLINK, EFTYPE on some systems) into ErrSymlink or ErrNotDir when that is
// what the entry is.
func explain(dirfd int, name string, err error) error {
	if err == unix.ENOENT || err == unix.EEXIST {
		return err
	}
	var st unix.Stat_t
	if lstatat(dirfd, name, &st) == nil {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			return ErrSymlink
		case unix.S_IFDIR:
			return err
		}
		if err == unix.ENOTDIR {
			return ErrNotDir
		}
	}
	return err
}

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NONBLOCK

// openDir opens the directory made of comps below the root, never
// following a link; with create, missing directories are made with perm.
// An error opening the root itself names full, the path asked for.
func (f *FS) openDir(op, full string, comps []string, create bool, perm os.FileMode) (int, error) {
	fd, err := openat(unix.AT_FDCWD, f.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, perr(op, full, err)
	}
	for i, c := range comps {
		nfd, err := openat(fd, c, dirFlags, 0)
		if err == unix.ENOENT && create {
			if err = unix.Mkdirat(fd, c, uint32(perm.Perm())); err == nil || err == unix.EEXIST {
				nfd, err = openat(fd, c, dirFlags, 0)
			}
		}
		if err != nil {
			err = explain(fd, c, err)
			unix.Close(fd)
			return -1, perr(op, filepath.Join(f.root, filepath.Join(comps[:i+1]...)), err)
		}
		unix.Close(fd)
		fd = nfd
	}
	return fd, nil
}

// parent opens the directory holding name, and returns its descriptor and
// the last component of name.
func (f *FS) parent(op, name string) (int, string, string, error) {
	full, comps, err := f.split(name)
	if err == nil && len(comps) == 0 {
		err = ErrOutside
	}
	if err != nil {
		return -1, "", full, perr(op, full, err)
	}
	fd, err := f.openDir(op, full, comps[:len(comps)-1], false, 0)
	if err != nil {
		return -1, "", full, err
	}
	return fd, comps[len(comps)-1], full, nil
}

func isWrite(flag int) bool {
	return flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0
}

// kindOK says whether a file of mode m may be opened with flag.
func kindOK(m uint32, flag int) error {
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
		return nil
	case unix.S_IFDIR:
		if isWrite(flag) {
			return unix.EISDIR
		}
		return nil
	case unix.S_IFLNK:
		return ErrSymlink
	}
	return ErrNotRegular
}

// OpenFile opens name, which must be a regular file, or a directory if
// flag opens it read-only. No link is followed at any component below the
// root, and nothing that is neither a regular file nor a directory is
// opened.
func (f *FS) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	full, comps, err := f.split(name)
	if err != nil {
		return nil, perr("open", full, err)
	}
	if len(comps) == 0 {
		if isWrite(flag) {
			return nil, perr("open", full, unix.EISDIR)
		}
		fd, err := f.openDir("open", full, nil, false, 0)
		if err != nil {
			return nil, err
		}
		return newFile(fd, name)
	}
	pfd, base, _, err := f.parent("open", name)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	// Refuse what must not be opened before opening it: opening a FIFO or
	// a device has effects of its own.
	var st unix.Stat_t
	if err := lstatat(pfd, base, &st); err == nil {
		if err := kindOK(uint32(st.Mode), flag); err != nil {
			return nil, perr("open", full, err)
		}
	} else if err != unix.ENOENT {
		return nil, perr("open", full, err)
	}
	fd, err := openat(pfd, base, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK, uint32(perm.Perm()))
	if err != nil {
		return nil, perr("open", full, explain(pfd, base, err))
	}
	// It may have been swapped between the lstat and the open.
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, perr("open", full, err)
	}
	if err := kindOK(uint32(st.Mode), flag); err != nil {
		unix.Close(fd)
		return nil, perr("open", full, err)
	}
	// Named as given, as os.OpenFile names its files.
	return newFile(fd, name)
}

func newFile(fd int, name string) (*os.File, error) {
	// Regular files and directories do not need non-blocking mode; the
	// runtime treats a blocking descriptor as an ordinary file.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, perr("open", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// Open opens name read-only (a regular file or a directory).
func (f *FS) Open(name string) (*os.File, error) { return f.OpenFile(name, os.O_RDONLY, 0) }

// Create creates or truncates the regular file name.
func (f *FS) Create(name string) (*os.File, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// ReadFile reads the regular file name, refusing one larger than max bytes.
func (f *FS) ReadFile(name string, max int64) ([]byte, error) {
	fl, err := f.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer fl.Close()
	fi, err := fl.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, perr("read", fl.Name(), unix.EISDIR)
	}
	if fi.Size() > max {
		return nil, perr("read", fl.Name(), fmt.Errorf("%w (%d bytes, at most %d)", ErrTooLarge, fi.Size(), max))
	}
	data, err := io.ReadAll(io.LimitReader(fl, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, perr("read", fl.Name(), fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, max))
	}
	return data, nil
}

// ReadDir lists the directory name (entries are not followed: their
// Type is that of the entry itself).
func (f *FS) ReadDir(name string) ([]os.DirEntry, error) {
	d, err := f.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	fi, err := d.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, perr("readdir", d.Name(), ErrNotDir)
	}
	return d.ReadDir(-1)
}

// Lstat describes name itself (a link is not followed).
func (f *FS) Lstat(name string) (os.FileInfo, error) {
	full, comps, err := f.split(name)
	if err != nil {
		return nil, perr("lstat", full, err)
	}
	if len(comps) == 0 {
		return os.Stat(full)
	}
	pfd, base, _, err := f.parent("lstat", name)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := lstatat(pfd, base, &st); err != nil {
		return nil, perr("lstat", full, err)
	}
	return &fileInfo{name: base, st: st}, nil
}

// Stat is Lstat: FS never follows a link.
func (f *FS) Stat(name string) (os.FileInfo, error) { return f.Lstat(name) }

// LstatIfPossible implements afero.Lstater.
func (f *FS) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	fi, err := f.Lstat(name)
	return fi, true, err
}

// Mkdir makes the directory name.
func (f *FS) Mkdir(name string, perm os.FileMode) error {
	pfd, base, full, err := f.parent("mkdir", name)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if err := unix.Mkdirat(pfd, base, uint32(perm.Perm())); err != nil {
		return perr("mkdir", full, err)
	}
	return nil
}

// MkdirAll makes the directory name and its missing parents below the
// root; an existing component that is a link is an error.
func (f *FS) MkdirAll(name string, perm os.FileMode) error {
	full, comps, err := f.split(name)
	if err != nil {
		return perr("mkdir", full, err)
	}
	fd, err := f.openDir("mkdir", full, comps, true, perm)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

// MkdirTemp makes a new directory in dir named pattern followed by random
// characters, and returns its path.
func (f *FS) MkdirTemp(dir, pattern string) (string, error) {
	full, comps, err := f.split(dir)
	if err != nil {
		return "", perr("mkdirtemp", full, err)
	}
	fd, err := f.openDir("mkdirtemp", full, comps, false, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	for range 100 {
		var b [6]byte
		rand.Read(b[:])
		name := pattern + hex.EncodeToString(b[:])
		err := unix.Mkdirat(fd, name, 0o700)
		if err == nil {
			return filepath.Join(full, name), nil
		}
		if err != unix.EEXIST {
			return "", perr("mkdirtemp", filepath.Join(full, name), err)
		}
	}
	return "", perr("mkdirtemp", full, unix.EEXIST)
}

// Remove removes the file, link or empty directory name (a link itself,
// not what it points to).
func (f *FS) Remove(name string) error {
	pfd, base, full, err := f.parent("remove", name)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if err := remove(pfd, base); err != nil {
		return perr("remove", full, err)
	}
	return nil
}

func remove(pfd int, base string) error {
	err := unix.Unlinkat(pfd, base, 0)
	if err == nil {
		return nil
	}
	err1 := unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
	if err1 == nil {
		return nil
	}
	if err1 == unix.ENOTDIR {
		return err
	}
	return err1
}

// RemoveAll removes name and everything below it, without following any
// link (a link is removed, not what it points to). A missing name is not
// an error. The root itself is never removed.
func (f *FS) RemoveAll(name string) error {
	pfd, base, full, err := f.parent("removeall", name)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if err := removeAll(pfd, base); err != nil {
		return perr("removeall", full, err)
	}
	return nil
}

func removeAll(pfd int, base string) error {
	var st unix.Stat_t
	if err := lstatat(pfd, base, &st); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := unix.Unlinkat(pfd, base, 0); err != nil && err != unix.ENOENT {
			return err
		}
		return nil
	}
	fd, err := openat(pfd, base, dirFlags, 0)
	if err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return explain(pfd, base, err)
	}
	d := os.NewFile(uintptr(fd), base)
	names, err := d.Readdirnames(-1)
	if err == nil {
		for _, n := range names {
			if err = removeAll(int(d.Fd()), n); err != nil {
				break
			}
		}
	}
	d.Close()
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		return err
	}
	return nil
}

// Rename renames oldname to newname (both below the root; a link is
// renamed or replaced itself, never followed).
func (f *FS) Rename(oldname, newname string) error {
	ofd, obase, ofull, err := f.parent("rename", oldname)
	if err != nil {
		return err
	}
	defer unix.Close(ofd)
	nfd, nbase, nfull, err := f.parent("rename", newname)
	if err != nil {
		return err
	}
	defer unix.Close(nfd)
	if err := unix.Renameat(ofd, obase, nfd, nbase); err != nil {
		return &os.LinkError{Op: "rename", Old: ofull, New: nfull, Err: err}
	}
	return nil
}

// Chmod changes the mode of the regular file or directory name.
func (f *FS) Chmod(name string, mode os.FileMode) error {
	fl, err := f.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer fl.Close()
	return fl.Chmod(mode)
}

// Chown changes the owner of name itself.
func (f *FS) Chown(name string, uid, gid int) error {
	pfd, base, full, err := f.parent("chown", name)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return perr("chown", full, err)
	}
	return nil
}

// Chtimes changes the times of name itself.
func (f *FS) Chtimes(name string, atime, mtime time.Time) error {
	pfd, base, full, err := f.parent("chtimes", name)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return perr("chtimes", full, err)
	}
	return nil
}

// Name is the name of this afero.Fs.
func (f *FS) Name() string { return "safefs" }

// Afero returns f as an afero.Fs (for package atomicfs and the like).
func (f *FS) Afero() afero.Fs { return aferoFS{f} }

// aferoFS adapts FS to afero.Fs, whose OpenFile, Open and Create return
// afero.File.
type aferoFS struct{ *FS }

func (a aferoFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	return asAfero(a.FS.OpenFile(name, flag, perm))
}
func (a aferoFS) Open(name string) (afero.File, error)   { return asAfero(a.FS.Open(name)) }
func (a aferoFS) Create(name string) (afero.File, error) { return asAfero(a.FS.Create(name)) }

// asAfero keeps a failed open's file a nil interface, not a nil *os.File.
func asAfero(f *os.File, err error) (afero.File, error) {
	if err != nil {
		return nil, err
	}
	return f, nil
}

var _ afero.Fs = aferoFS{}
var _ afero.Lstater = aferoFS{}

// fileInfo is an os.FileInfo from an fstatat.
type fileInfo struct {
	name string
	st   unix.Stat_t
}

func (fi *fileInfo) Name() string { return fi.name }
func (fi *fileInfo) Size() int64  { return fi.st.Size }
func (fi *fileInfo) Mode() os.FileMode {
	m := os.FileMode(fi.st.Mode & 0o777)
	switch fi.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= os.ModeDir
	case unix.S_IFLNK:
		m |= os.ModeSymlink
	case unix.S_IFIFO:
		m |= os.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= os.ModeSocket
	case unix.S_IFCHR:
		m |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFBLK:
		m |= os.ModeDevice
	}
	if fi.st.Mode&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if fi.st.Mode&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if fi.st.Mode&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}
func (fi *fileInfo) ModTime() time.Time {
	sec, nsec := fi.st.Mtim.Unix()
	return time.Unix(sec, nsec)
}
func (fi *fileInfo) IsDir() bool { return fi.Mode().IsDir() }
func (fi *fileInfo) Sys() any    { return &fi.st }

// IsUnsafe reports whether err is a refusal of this package: a link, or
// something other than a regular file or directory, where a file or
// directory was expected.
func IsUnsafe(err error) bool {
	return errors.Is(err, ErrSymlink) || errors.Is(err, ErrNotRegular) || errors.Is(err, ErrNotDir) || errors.Is(err, ErrOutside)
}
