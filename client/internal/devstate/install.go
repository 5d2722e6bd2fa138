package devstate

import (
	"errors"
	"path/filepath"
	"sync"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/spf13/afero"
)

// syncWorkers is how many files MoveVerified fsyncs at once: concurrent
// fsyncs of small files share the filesystem's journal commits, where one
// after the other each waits for its own.
const syncWorkers = 8

// MoveVerified moves the verified staged files of version v (names, each
// staged as name+PartSuffix in stage) into a new hidden directory of the
// model (InstallPrefix: recover removes it) and makes them durable: every
// file fsynced (several at once), then the directory. It returns the
// directory, ready to be renamed into place as the version.
//
// The staged files are not fsynced one by one as they are downloaded
// (transport.Downloader.SyncLater): the version becomes visible only by
// the rename of this directory, after its files and itself are durable,
// so a power loss before then leaves at worst staged parts or a hidden
// directory with damaged bytes, which nothing trusts (a staged part is
// hashed again before it is used; a hidden directory is deleted).
func MoveVerified(p ModelPaths, stage, v string, names []string) (string, error) {
	tmp, err := p.FS.MkdirTemp(p.Dir, InstallPrefix+v+"-")
	if err != nil {
		return "", codes.Errorf(codes.ClassifyFS(err), err, "installing")
	}
	for _, name := range names {
		if err := p.FS.Rename(filepath.Join(stage, name+PartSuffix), filepath.Join(tmp, name)); err != nil {
			return "", codes.Errorf(codes.StateInvalid, err, "installing %s", name)
		}
		crashpoint.Hit("client.install.moved")
	}
	if err := SyncFiles(tmp, names); err != nil {
		return "", codes.Errorf(codes.ClassifyFS(err), err, "installing %s", v)
	}
	return tmp, nil
}

// SyncFiles fsyncs the regular files names of dir, several at once, then
// dir itself. Unlike SyncDir it fails on the first error: what it syncs
// is about to be trusted.
func SyncFiles(dir string, names []string) error {
	errs := make([]error, syncWorkers)
	var wg sync.WaitGroup
	for w := range min(syncWorkers, len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(names) && errs[w] == nil; i += syncWorkers {
				errs[w] = syncFile(filepath.Join(dir, names[i]))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return atomicfs.SyncDir(afero.NewOsFs(), dir)
}

// syncFile fsyncs one regular file, not through a link.
func syncFile(path string) error {
	f, err := OpenRegular(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
