//go:build !linux

package installed

import "os"

// reflink: no clone ioctl here; the caller copies.
func reflink(dst, src *os.File) bool { return false }
