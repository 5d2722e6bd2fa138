//go:build unix

// Opening and reading: OpenFile, Open, Create, ReadFile, ReadDir and the
// stats, which describe a name itself (fileInfo, from an fstatat).

package safefs

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

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
