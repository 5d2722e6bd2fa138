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
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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

// IsUnsafe reports whether err is a refusal of this package: a link, or
// something other than a regular file or directory, where a file or
// directory was expected.
func IsUnsafe(err error) bool {
	return errors.Is(err, ErrSymlink) || errors.Is(err, ErrNotRegular) || errors.Is(err, ErrNotDir) || errors.Is(err, ErrOutside)
}
