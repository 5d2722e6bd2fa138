package targets

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ManifestName is the file name of a bundle's manifest, both in the bundle
// directory and as the last component of its target path.
const ManifestName = "manifest.json"

// ModelsDir is the first component of every model target path.
const ModelsDir = "models"

var (
	modelIDPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	fileNamePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+@=-]{0,199}$`)
)

// CheckModelID reports whether id can name a model: ASCII letters, digits,
// '.', '_' and '-', starting with a letter or digit, at most 128 characters.
// Model IDs become path components, so nothing else is allowed.
func CheckModelID(id string) error {
	if !modelIDPattern.MatchString(id) {
		return fmt.Errorf("model_id %q: must be 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit", id)
	}
	return nil
}

// CheckFileName reports whether name can be a payload file name. Bundles
// are flat: a name is one path component, so it can never escape the
// bundle or the model's target directory.
func CheckFileName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty file name")
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("file %q: absolute paths are not allowed", name)
	case name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") || strings.HasSuffix(name, "/.."):
		return fmt.Errorf("file %q: path escapes the bundle", name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("file %q: subdirectories are not supported, bundles are flat", name)
	case name == ManifestName:
		return fmt.Errorf("file %q: the manifest is not a payload file", name)
	case FoldName(name) == ManifestName:
		return fmt.Errorf("file %q: collides with %s on case-insensitive filesystems (SD cards)", name, ManifestName)
	case !fileNamePattern.MatchString(name):
		return fmt.Errorf("file %q: must be 1-200 characters of A-Z a-z 0-9 . _ + @ = - not starting with '.' or '-'", name)
	}
	return nil
}

// FoldName is the name under which a file name is stored on the
// filesystems devices use: FAT and exFAT (SD cards), NTFS, and APFS and
// HFS+ by default, ignore case, and FAT and NTFS drop trailing dots. Two
// payload files whose folded names are equal would overwrite each other
// there, so a version may not have both. File names and versions are
// ASCII (CheckFileName, ParseVersion), so ASCII case folding is the whole
// of case folding for them and Unicode normalization never applies.
func FoldName(name string) string {
	return strings.ToLower(strings.TrimRight(name, "."))
}

// CheckDistinctNames fails if two of names are equal, or collide on a
// case-insensitive filesystem (FoldName).
func CheckDistinctNames(names []string) error {
	seen := make(map[string]string, len(names))
	for _, n := range names {
		k := FoldName(n)
		if other, ok := seen[k]; ok {
			if other == n {
				return fmt.Errorf("file %q is listed twice", n)
			}
			return fmt.Errorf("files %q and %q differ only in case or trailing dots: they collide on case-insensitive filesystems (SD cards)", other, n)
		}
		seen[k] = n
	}
	return nil
}

// TargetDir is the target path directory of one model version.
func TargetDir(modelID, version string) string {
	return ModelsDir + "/" + modelID + "/" + version
}

// TargetPath is the target path of one file of one model version.
func TargetPath(modelID, version, file string) string {
	return TargetDir(modelID, version) + "/" + file
}

// ManifestPath is the target path of a model version's manifest.
func ManifestPath(modelID, version string) string {
	return TargetPath(modelID, version, ManifestName)
}

// DeltasDir is the component under a version's target directory that
// holds its delta patches: models/<model_id>/<version>/deltas/<base>/<file>.
const DeltasDir = "deltas"

// DeltaPath is the target path of the patch that rebuilds file of a model
// version from the same file of version base.
func DeltaPath(modelID, version, base, file string) string {
	return TargetDir(modelID, version) + "/" + DeltasDir + "/" + base + "/" + file
}

// ParsedPath is a target path split into its parts.
type ParsedPath struct {
	ModelID string
	Version string
	File    string
	// Base is the base version of a delta patch's path, "" otherwise.
	Base string
}

// ParseTargetPath splits models/<model_id>/<version>/<file> and validates
// every component. Paths of any other shape are an error.
func ParseTargetPath(p string) (ParsedPath, error) {
	parts := strings.Split(p, "/")
	var pp ParsedPath
	switch {
	case len(parts) == 4 && parts[0] == ModelsDir:
		pp = ParsedPath{ModelID: parts[1], Version: parts[2], File: parts[3]}
	case len(parts) == 6 && parts[0] == ModelsDir && parts[3] == DeltasDir:
		pp = ParsedPath{ModelID: parts[1], Version: parts[2], Base: parts[4], File: parts[5]}
		if _, err := ParseVersion(pp.Base); err != nil {
			return pp, err
		}
		if pp.File == ManifestName {
			return pp, fmt.Errorf("target path %q: the manifest has no delta", p)
		}
	default:
		return ParsedPath{}, fmt.Errorf("target path %q is not %s/<model_id>/<version>/<file> or %s/<model_id>/<version>/%s/<base>/<file>", p, ModelsDir, ModelsDir, DeltasDir)
	}
	if err := CheckModelID(pp.ModelID); err != nil {
		return pp, err
	}
	if _, err := ParseVersion(pp.Version); err != nil {
		return pp, err
	}
	if pp.File != ManifestName {
		if err := CheckFileName(pp.File); err != nil {
			return pp, err
		}
	}
	return pp, nil
}

// PublishedVersions lists, per model ID, the versions that have a manifest
// among the given target paths (the keys of a targets role's "targets"
// map), oldest first. Paths that are not model manifests are ignored.
func PublishedVersions[V any](targetPaths map[string]V) map[string][]Version {
	out := map[string][]Version{}
	for p := range targetPaths {
		pp, err := ParseTargetPath(p)
		if err != nil || pp.File != ManifestName {
			continue
		}
		v, err := ParseVersion(pp.Version)
		if err != nil {
			continue
		}
		out[pp.ModelID] = append(out[pp.ModelID], v)
	}
	for id := range out {
		vs := out[id]
		sort.Slice(vs, func(i, j int) bool { return vs[i].Compare(vs[j]) < 0 })
	}
	return out
}
