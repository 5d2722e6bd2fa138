//go:build linux

package directio

import (
	"io"
	"os"
	"syscall"
)

// Open returns a Writer that writes the existing file at path from offset
// off on, whose ordinary descriptor is plain, or nil if direct I/O is not available
// there (tmpfs, some network filesystems); callers then write to plain.
func Open(path string, plain io.WriterAt, off int64) *Writer {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return nil
	}
	return &Writer{direct: f, plain: plain, off: off}
}
