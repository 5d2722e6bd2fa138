package verifiedread

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/fsverity"
	"github.com/edgetuf/edgetuf/internal/safefs"
)

// Protect enables fs-verity on the files names in dir, a version being
// installed whose files were verified against signed metadata and are
// closed. Where the filesystem or kernel does not support it, it logs why
// (debug) and returns nil; any other failure is an error (no space for
// the Merkle tree: INSUFFICIENT_STORAGE; otherwise STATE_INVALID).
func Protect(sfs *safefs.FS, dir string, names []string, log *slog.Logger) error {
	for _, name := range names {
		f, err := sfs.OpenFile(filepath.Join(dir, name), os.O_RDONLY, 0)
		if err != nil {
			return codes.Errorf(codes.StateInvalid, err, "opening %s for fs-verity", name)
		}
		err = fsverity.Enable(f)
		f.Close()
		if errors.Is(err, fsverity.ErrNotSupported) {
			log.Debug("fs-verity not enabled", "dir", dir, "reason", err.Error())
			return nil // one filesystem: the other files would fail alike
		}
		if err != nil {
			return codes.Errorf(codes.ClassifyFS(err), err, "installing %s", name)
		}
	}
	log.Debug("fs-verity enabled", "dir", dir, "files", len(names))
	return nil
}
