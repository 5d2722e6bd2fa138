package fsverity

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// blockSize is the Merkle tree's block size: 4096 works on every kernel
// whose page size is 4096; others (64 KiB pages before Linux 6.3) need
// their page size, which Enable tries next.
const blockSize = 4096

// Enable enables fs-verity on f, a regular file open read-only that no
// process has open for writing, with SHA-256 and no salt. A file that has
// it already is left as it is (nil). The error wraps ErrNotSupported when
// the filesystem, its configuration or the kernel do not support it.
func Enable(f *os.File) error {
	err := enable(f, blockSize)
	if errors.Is(err, unix.EINVAL) && os.Getpagesize() != blockSize {
		err = enable(f, uint32(os.Getpagesize()))
	}
	switch {
	case err == nil, errors.Is(err, unix.EEXIST):
		return nil
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOTTY), errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%s: %w (%v)", f.Name(), ErrNotSupported, err)
	}
	return fmt.Errorf("enabling fs-verity on %s: %w", f.Name(), err)
}

func enable(f *os.File, block uint32) error {
	arg := unix.FsverityEnableArg{Version: 1, Hash_algorithm: unix.FS_VERITY_HASH_ALG_SHA256, Block_size: block}
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.FS_IOC_ENABLE_VERITY, uintptr(unsafe.Pointer(&arg)))
		if errno != unix.EINTR {
			if errno == 0 {
				return nil
			}
			return errno
		}
	}
}

// Enabled reports whether f has fs-verity enabled.
func Enabled(f *os.File) (bool, error) {
	var st unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS, &st); err != nil {
		return false, err
	}
	return st.Attributes_mask&unix.STATX_ATTR_VERITY != 0 && st.Attributes&unix.STATX_ATTR_VERITY != 0, nil
}
