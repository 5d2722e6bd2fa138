package release

import (
	"errors"
	"fmt"
	"strings"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Errors of a publication's rules, wrapped with details.
var (
	// ErrVersionExists: the model version is already published.
	ErrVersionExists = errors.New("version already published")
	// ErrVersionNotNewer: a newer version of the model is already published.
	ErrVersionNotNewer = errors.New("version is not newer than the latest published")
	// ErrDeltaBase: a base version to compute patches from is not a
	// published version of the model older than the one being published.
	ErrDeltaBase = errors.New("invalid delta base version")
)

// Base is a published version to compute patches from, with its
// manifest target's custom metadata (which lists its payload files).
type Base struct {
	Version string // as published (the path component)
	Custom  *targets.Custom
}

// Paths lists every target path a publication of m may write: the
// manifest, the payload files and a patch of each file from each base.
func Paths(m *targets.Manifest, files []string, bases []Base) []string {
	out := []string{targets.ManifestPath(m.ModelID, m.Version)}
	for _, f := range files {
		out = append(out, targets.TargetPath(m.ModelID, m.Version, f))
		for _, b := range bases {
			out = append(out, targets.DeltaPath(m.ModelID, m.Version, b.Version, f))
		}
	}
	return out
}

// CheckNewVersion refuses a version that exists or is not the newest.
// published holds the targets of every role as clients resolve them (the
// top-level targets and the delegated roles). A version of equal precedence counts
// as existing: 2.0.0+build.7 next to 2.0.0 is neither newer nor older
// (semver ignores build metadata), and devices could not order the two.
func CheckNewVersion(published map[string]*metadata.TargetFiles, m *targets.Manifest) error {
	nv, err := targets.ParseVersion(m.Version)
	if err != nil {
		return err
	}
	for _, pv := range targets.PublishedVersions(published)[m.ModelID] {
		// 1.0.0-RC.1 and 1.0.0-rc.1 are two versions, but one directory
		// on a case-insensitive filesystem (a device's SD card).
		if targets.FoldName(pv.String()) == targets.FoldName(nv.String()) && pv.String() != nv.String() {
			return fmt.Errorf("%w: %s %s differs only in case from the published %s: their directories collide on case-insensitive filesystems (SD cards)", ErrVersionExists, m.ModelID, m.Version, pv)
		}
		switch c := nv.Compare(pv); {
		case c == 0 && nv.String() != pv.String():
			return fmt.Errorf("%w: %s %s has the same precedence as the published %s (semantic versioning ignores build metadata, so devices could not tell which is newer): publish a higher version", ErrVersionExists, m.ModelID, m.Version, pv)
		case c == 0:
			return fmt.Errorf("%w: %s %s (published as %s)", ErrVersionExists, m.ModelID, m.Version, pv)
		case c < 0:
			return fmt.Errorf("%w: %s %s < %s", ErrVersionNotNewer, m.ModelID, m.Version, pv)
		}
	}
	return nil
}

// DeltaBases checks that each requested base is a published version of
// the model (in view, the targets clients resolve), older than the new
// one, named once, and returns the bases.
func DeltaBases(view map[string]*metadata.TargetFiles, m *targets.Manifest, from []string) ([]Base, error) {
	if len(from) == 0 {
		return nil, nil
	}
	nv, err := targets.ParseVersion(m.Version)
	if err != nil {
		return nil, err
	}
	published := targets.PublishedVersions(view)[m.ModelID]
	var list []string
	for _, pv := range published {
		list = append(list, pv.String())
	}
	var out []Base
	seen := map[string]string{}
	for _, b := range from {
		bv, err := targets.ParseVersion(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDeltaBase, err)
		}
		if bv.Compare(nv) >= 0 {
			return nil, fmt.Errorf("%w: %s %s is not older than the version being published, %s", ErrDeltaBase, m.ModelID, b, m.Version)
		}
		var match string
		for _, pv := range published {
			if pv.Compare(bv) == 0 {
				match = pv.String()
			}
		}
		if match == "" {
			if len(list) == 0 {
				return nil, fmt.Errorf("%w: %s %s is not published (no version of %s is)", ErrDeltaBase, m.ModelID, b, m.ModelID)
			}
			return nil, fmt.Errorf("%w: %s %s is not published (published: %s)", ErrDeltaBase, m.ModelID, b, strings.Join(list, ", "))
		}
		if prev, dup := seen[match]; dup {
			return nil, fmt.Errorf("%w: %s given twice (%s, %s)", ErrDeltaBase, match, prev, b)
		}
		seen[match] = b
		mp := targets.ManifestPath(m.ModelID, match)
		mtf := view[mp]
		if mtf == nil {
			return nil, fmt.Errorf("%w: %s %s: no %s target", ErrDeltaBase, m.ModelID, match, mp)
		}
		c, err := targets.ParseCustom(mp, mtf.Custom)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrDeltaBase, m.ModelID, match, err)
		}
		out = append(out, Base{Version: match, Custom: c})
	}
	return out, nil
}
