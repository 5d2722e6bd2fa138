//go:build !unix

package writerlock

import "os"

// tryFlock is a no-op where flock does not exist; the in-process lock
// still serialises writers of one process.
func tryFlock(f *os.File) (bool, error) { return true, nil }

func unFlock(f *os.File) {}
