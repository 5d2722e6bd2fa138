package installed

import (
	"os"

	"golang.org/x/sys/unix"
)

// reflink makes dst a copy-on-write clone of src (ioctl FICLONE), and
// reports whether it did: filesystems without clones (ext4, tmpfs) or two
// different filesystems refuse, and the caller copies instead.
func reflink(dst, src *os.File) bool {
	return unix.IoctlFileClone(int(dst.Fd()), int(src.Fd())) == nil
}
