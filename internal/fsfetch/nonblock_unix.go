//go:build unix

package fsfetch

import "syscall"

// oNonblock makes open(2) return at once on a FIFO without a writer.
const oNonblock = syscall.O_NONBLOCK
