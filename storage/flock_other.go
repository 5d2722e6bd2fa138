//go:build !unix

package storage

import (
	"os"
	"sync"
)

// fileMu stands in for flock where it does not exist: writers of one
// process are still serialised; file:// across processes is unsupported
// there.
var fileMu sync.RWMutex

func flock(_ *os.File, exclusive bool) error {
	if exclusive {
		fileMu.Lock()
	} else {
		fileMu.RLock()
	}
	return nil
}

func funlock(*os.File) {}

func inode(os.FileInfo) uint64 { return 0 }
