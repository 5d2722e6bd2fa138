package targetstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFilesystem flushes the filesystem that holds dir with one syncfs:
// cheaper than an fsync per file when a grant writes 100,000 envelopes.
func syncFilesystem(dir string) (done bool, err error) {
	d, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer d.Close()
	return true, unix.Syncfs(int(d.Fd()))
}
