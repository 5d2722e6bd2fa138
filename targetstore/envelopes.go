package targetstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	"filippo.io/age/tag"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// EnvelopeDir is the directory of the key envelopes of modelID at version
// (targets.EnvelopeDir under targets/).
func (s Store) EnvelopeDir(modelID, version string) string {
	return filepath.Join(s.Dir, repofiles.TargetsDir, filepath.FromSlash(targets.EnvelopeDir(modelID, version)))
}

// PutEnvelopes seals the content key of modelID at version (a Grant
// without expiry) for every recipient and stores each envelope as
// EnvelopeDir/<modelcrypt.EnvelopeName(recipient)>, replacing one that is
// there (a device enrolled again, the same grant sealed anew). It returns
// the number of envelopes written (duplicate recipients count once).
//
// Envelopes are not targets: nothing signs them, a device checks the key
// inside against the version's signed recipient. They are written
// crash-safely in bulk: every envelope to a temporary file, then all of
// them made durable at once (one syncfs on Linux, an fsync each
// elsewhere), then renamed, then the directory fsynced. A crash leaves
// complete envelopes and temporary files (removed by the next writer),
// never a torn envelope under its name. Sealing runs on every CPU.
func (s Store) PutEnvelopes(modelID, version string, recipients []*tag.Recipient, key *modelcrypt.ContentKey) (int, error) {
	if err := targets.CheckModelID(modelID); err != nil {
		return 0, err
	}
	if _, err := targets.ParseVersion(version); err != nil {
		return 0, err
	}
	dir := s.EnvelopeDir(modelID, version)
	if err := s.Fs.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	grant := modelcrypt.Grant{ModelID: modelID, Version: version}
	byName := map[string]*tag.Recipient{}
	for _, r := range recipients {
		byName[modelcrypt.EnvelopeName(r)] = r
	}
	type job struct {
		name string
		r    *tag.Recipient
		tmp  string
	}
	jobs := make([]*job, 0, len(byName))
	for name, r := range byName {
		jobs = append(jobs, &job{name: name, r: r})
	}
	removeTemps := func() {
		for _, j := range jobs {
			if j.tmp != "" {
				s.Fs.Remove(j.tmp)
			}
		}
	}
	// Seal and write the temporary files, one worker per CPU.
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(jobs); i += workers {
				j := jobs[i]
				env, err := modelcrypt.SealContentKey(j.r, key, grant)
				if err == nil {
					j.tmp, err = writeTemp(s.Fs, dir, env)
				}
				if err != nil {
					errs[w] = fmt.Errorf("key envelope %s: %w", j.name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		removeTemps()
		return 0, err
	}
	temps := make([]string, len(jobs))
	for i, j := range jobs {
		temps[i] = j.tmp
	}
	if err := syncFiles(s.Fs, dir, temps); err != nil {
		removeTemps()
		return 0, err
	}
	for _, j := range jobs {
		if err := s.Fs.Rename(j.tmp, filepath.Join(dir, j.name)); err != nil {
			removeTemps()
			return 0, err
		}
		j.tmp = ""
	}
	return len(jobs), atomicfs.SyncDir(s.Fs, dir)
}

// writeTemp writes data to a new temporary file in dir (mode 0644: an
// envelope is published) without syncing it, and returns its path.
func writeTemp(fs afero.Fs, dir string, data []byte) (string, error) {
	f, err := afero.TempFile(fs, dir, atomicfs.TempPrefix+"*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = fs.Chmod(name, 0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fs.Remove(name)
		return "", err
	}
	return name, nil
}

// syncFiles makes the files in dir durable: one syncfs of the filesystem
// that holds dir where the platform has it (syncfs_linux.go), otherwise an
// fsync of each file.
func syncFiles(fs afero.Fs, dir string, files []string) error {
	if _, ok := fs.(*afero.OsFs); ok {
		if done, err := syncFilesystem(dir); done || err != nil {
			return err
		}
	}
	for _, name := range files {
		f, err := fs.Open(name)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
