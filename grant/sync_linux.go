package grant

import (
	"os"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"
)

// syncFiles makes the files named (all in dir) durable. On the OS
// filesystem it is one syncfs(2) of dir's filesystem: one journal commit
// for a whole batch of envelopes, where an fsync per file costs one each
// (100,000 fsyncs take minutes on an ordinary disk). syncfs reports
// writeback errors since Linux 5.8.
func syncFiles(fs afero.Fs, dir string, names []string) error {
	if _, ok := fs.(*afero.OsFs); !ok {
		return syncEach(fs, names)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}
