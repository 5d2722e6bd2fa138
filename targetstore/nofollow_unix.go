//go:build unix

package targetstore

import "syscall"

// noFollow makes opening a bundle file fail if it was swapped for a
// symlink after it was checked.
const noFollow = syscall.O_NOFOLLOW
