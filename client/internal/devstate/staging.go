package devstate

import (
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/targets"
	"os"
	"sort"
)

// DeltaStagingAllows reports whether a file may take the delta path given
// what staging holds: not when the file is complete there (the download
// step re-hashes and uses it), nor when a full download of it is under
// way (a partial file and no staged patch: an earlier run fell back, or
// never tried a patch), so that a device interrupted again and again still
// makes progress.
func DeltaStagingAllows(filePart, patchPart string, length int64) bool {
	fi, err := os.Stat(filePart)
	if err != nil || fi.Size() == 0 {
		return true
	}
	if fi.Size() >= length {
		return false
	}
	_, err = os.Stat(patchPart)
	return err == nil
}

// InstalledBases lists the versions installed on this device that are
// older than v, in order of preference: the active version (ptr's), the
// previous one, then the others newest first (by newerFirst).
func InstalledBases(p ModelPaths, ptr *Pointer, newerFirst func(a, b targets.Version) bool, v targets.Version) []string {
	var out []string
	seen := map[string]bool{}
	add := func(b string) {
		bv, err := targets.ParseVersion(b)
		if b == "" || seen[b] || err != nil || bv.Compare(v) >= 0 || !dirExists(p.Version(b)) {
			return
		}
		seen[b] = true
		out = append(out, b)
	}
	if ptr != nil {
		add(ptr.Version)
		add(ptr.Previous)
	}
	entries, _ := os.ReadDir(p.Dir)
	var others []targets.Version
	for _, e := range entries {
		if bv, err := targets.ParseVersion(e.Name()); err == nil && e.IsDir() {
			others = append(others, bv)
		}
	}
	sort.Slice(others, func(i, j int) bool { return newerFirst(others[i], others[j]) })
	for _, o := range others {
		add(o.String())
	}
	return out
}

func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

// Staged is a file an install still writes in staging: its part file and
// its full length.
type Staged struct {
	Part   string
	Length int64
}

// CheckSpace refuses to start (INSUFFICIENT_STORAGE) when the free space
// of the model's filesystem (free) cannot hold what is still to be written
// of files, plus a margin of 1/20 (at least 16 MiB). A part already in
// staging counts for what it holds. what names the version in the message.
func CheckSpace(p ModelPaths, files []Staged, free func(path string) (uint64, error), what string) error {
	var need int64
	for _, f := range files {
		need += f.Length
		if fi, err := p.FS.Lstat(f.Part); err == nil && fi.Mode().IsRegular() && fi.Size() <= f.Length {
			need -= fi.Size()
		}
	}
	margin := max(need/20, 16<<20)
	if err := p.FS.MkdirAll(p.Dir, 0o700); err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "state directory")
	}
	n, err := free(p.Dir)
	if err != nil {
		return codes.Errorf(codes.StateInvalid, err, "checking free space")
	}
	if uint64(need+margin) > n {
		return codes.Errorf(codes.InsufficientStorage, nil, "%s needs %d bytes plus a %d-byte margin, %d free", what, need, margin, n)
	}
	return nil
}
