//go:build unix

// Changing the tree: making directories, removing, renaming, and changing
// modes, owners and times, each acting on a name itself, never through a
// link.

package safefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

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
