package fileperm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ReadSecret reads the file at path that holds a secret (a PIN file, a
// private key), at most max bytes: opened once, refused unless it is a
// regular file that group and others cannot access (Secret, checked on
// the opened file, so the path cannot be swapped between the check and
// the read). With noFollow, a symbolic link at path is refused instead of
// followed (files inside a state directory). what names the file in
// messages.
func ReadSecret(path, what string, max int64, noFollow bool) ([]byte, error) {
	flags := os.O_RDONLY
	if noFollow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		if noFollow && errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s %s is a symbolic link", what, path)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s is not a regular file", what, path)
	}
	if err := Secret(fi, path, what); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s %s: larger than %d bytes", what, path, max)
	}
	return data, nil
}
