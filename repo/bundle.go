package repo

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// bundle is a validated bundle directory: its manifest and the payload
// files to publish, not yet read.
type bundle struct {
	dir      string
	manifest *targets.Manifest
	files    []string // payload file names, in publishing order
	warnings []string
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

// readBundle validates a bundle directory without writing anything.
func readBundle(fs afero.Fs, dir string) (*bundle, error) {
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
	data, err := readBounded(fs, mpath, targets.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBundle, targets.ManifestName, err)
	}
	m, err := targets.ParseBundleManifest(data)
	if err != nil {
		return nil, err
	}
	b := &bundle{dir: dir, manifest: m}

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
			b.files = append(b.files, f.Path)
			delete(present, f.Path)
		}
		var extra []string
		for name := range present {
			extra = append(extra, name)
		}
		sort.Strings(extra)
		if len(extra) > 0 {
			b.warnings = append(b.warnings, fmt.Sprintf("not listed in the manifest, not published: %s", strings.Join(extra, ", ")))
		}
		return b, nil
	}
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		if name == targets.ManifestName {
			continue
		}
		if strings.HasPrefix(name, ".") {
			b.warnings = append(b.warnings, fmt.Sprintf("hidden file %s skipped", name))
			continue
		}
		if err := checkRegular(fs, filepath.Join(dir, name), name); err != nil {
			return nil, err
		}
		if err := targets.CheckFileName(name); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBundle, err)
		}
		b.files = append(b.files, name)
	}
	if len(b.files) == 0 {
		return nil, fmt.Errorf("%w: %s has no payload files besides %s", ErrBundle, dir, targets.ManifestName)
	}
	// A case-sensitive build machine can hold Model.bin and model.bin; a
	// device's SD card cannot.
	if err := targets.CheckDistinctNames(b.files); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	if len(b.files) > targets.MaxFiles {
		return nil, fmt.Errorf("%w: more than %d payload files", ErrBundle, targets.MaxFiles)
	}
	return b, nil
}
