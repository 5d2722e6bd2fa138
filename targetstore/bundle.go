package targetstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// ErrBundle: the bundle directory is unusable (missing or escaping paths,
// symlinks, hash or size mismatches with its manifest). Package repo
// returns it under the same name.
var ErrBundle = errors.New("invalid bundle")

// Bundle is a validated bundle directory: its manifest and the payload
// files to publish, not yet read (Store.PutBundleFile reads them).
type Bundle struct {
	Dir      string
	Manifest *targets.Manifest
	Files    []string // payload file names, in publishing order
	// Warnings are what ReadBundle skipped: unlisted or hidden files.
	Warnings []string
}

func lstat(fs afero.Fs, p string) (os.FileInfo, error) {
	if l, ok := fs.(afero.Lstater); ok {
		fi, _, err := l.LstatIfPossible(p)
		return fi, err
	}
	return fs.Stat(p)
}

// checkRegular fails unless p is a regular file (not a symlink, directory
// or device): a bundle must not smuggle in files from elsewhere.
func checkRegular(fs afero.Fs, p, name string) error {
	fi, err := lstat(fs, p)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%w: %s does not exist", ErrBundle, name)
		}
		return fmt.Errorf("%w: %s: %v", ErrBundle, name, err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink; bundles hold regular files only", ErrBundle, name)
	case fi.IsDir():
		return fmt.Errorf("%w: %s is a directory; bundles are flat", ErrBundle, name)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a regular file", ErrBundle, name)
	}
	return nil
}

// ReadBundle validates a bundle directory without writing anything: a
// bounded manifest.json, and payload files that are regular files (no
// symlinks, directories or devices) with names a device can hold. With a
// "files" list in the manifest, exactly those files are published, in
// that order; without one, every file but hidden ones, sorted by name.
func ReadBundle(fs afero.Fs, dir string) (*Bundle, error) {
	fi, err := fs.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrBundle, dir)
	}
	mpath := filepath.Join(dir, targets.ManifestName)
	if err := checkRegular(fs, mpath, targets.ManifestName); err != nil {
		return nil, err
	}
	data, err := repofiles.ReadBounded(fs, mpath, targets.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBundle, targets.ManifestName, err)
	}
	m, err := targets.ParseBundleManifest(data)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Dir: dir, Manifest: m}

	entries, err := afero.ReadDir(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	present := map[string]bool{}
	for _, e := range entries {
		if e.Name() != targets.ManifestName {
			present[e.Name()] = true
		}
	}
	if len(m.Files) > 0 {
		for _, f := range m.Files {
			if err := checkRegular(fs, filepath.Join(dir, f.Path), f.Path); err != nil {
				return nil, err
			}
			b.Files = append(b.Files, f.Path)
			delete(present, f.Path)
		}
		var extra []string
		for name := range present {
			extra = append(extra, name)
		}
		sort.Strings(extra)
		if len(extra) > 0 {
			b.Warnings = append(b.Warnings, fmt.Sprintf("not listed in the manifest, not published: %s", strings.Join(extra, ", ")))
		}
		return b, nil
	}
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		if name == targets.ManifestName {
			continue
		}
		if strings.HasPrefix(name, ".") {
			b.Warnings = append(b.Warnings, fmt.Sprintf("hidden file %s skipped", name))
			continue
		}
		if err := checkRegular(fs, filepath.Join(dir, name), name); err != nil {
			return nil, err
		}
		if err := targets.CheckFileName(name); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBundle, err)
		}
		b.Files = append(b.Files, name)
	}
	if len(b.Files) == 0 {
		return nil, fmt.Errorf("%w: %s has no payload files besides %s", ErrBundle, dir, targets.ManifestName)
	}
	// A case-sensitive build machine can hold Model.bin and model.bin; a
	// device's SD card cannot.
	if err := targets.CheckDistinctNames(b.Files); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	if len(b.Files) > targets.MaxFiles {
		return nil, fmt.Errorf("%w: more than %d payload files", ErrBundle, targets.MaxFiles)
	}
	return b, nil
}
