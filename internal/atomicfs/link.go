package atomicfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/spf13/afero"
)

// ErrNoLink is wrapped by Link's error when the filesystem cannot give a
// file a second name: not the OS filesystem, the two names on different
// filesystems, a filesystem without hard links, or too many links.
var ErrNoLink = errors.New("hard links are not possible here")

// Link gives the committed file old a second name, final, as durably as
// Commit names a written file: the link is made under a temporary name in
// final's directory, renamed to final (replacing what was there), and the
// directory fsynced. A crash leaves either no final name, or a final name
// for old's bytes, which were made durable when old was committed; a
// leftover temporary name is removed by RemoveStale like any other. old
// and final must not be links themselves (a hard link to a symlink names
// the symlink). The error wraps ErrNoLink when the link is not possible;
// nothing is left behind then.
func Link(fs afero.Fs, old, final string) error {
	if _, ok := fs.(*afero.OsFs); !ok {
		return fmt.Errorf("%w: not the OS filesystem", ErrNoLink)
	}
	dir := filepath.Dir(final)
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := filepath.Join(dir, TempPrefix+"link-"+hex.EncodeToString(rnd[:]))
	if err := os.Link(old, tmp); err != nil {
		if errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) ||
			errors.Is(err, syscall.EMLINK) || errors.Is(err, syscall.ENOSYS) {
			return fmt.Errorf("%w: %v", ErrNoLink, err)
		}
		return err
	}
	crashpoint.Hit("atomicfs.linked")
	err := os.Rename(tmp, final)
	// Renaming onto another name of the same file does nothing and leaves
	// tmp: remove it in every case.
	os.Remove(tmp)
	if err != nil {
		return err
	}
	crashpoint.Hit("atomicfs.renamed")
	return SyncDir(fs, dir)
}
