package client

import (
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"sort"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// candidate is one published version of a model, known from signed
// metadata only.
type candidate struct {
	version  targets.Version
	manifest *metadata.TargetFiles
	custom   *targets.Custom
}

// candidates lists the published versions of a model, newest first. It
// loads every delegated role that may sign a manifest of the model
// (loadRolesFor), then resolves each manifest path that any loaded role
// lists through the delegation tree with go-tuf's own lookup (pre-order,
// depth first, in delegation order, stopping after a terminating
// delegation, as the TUF specification says), and uses only the entry
// that lookup returns: a version listed by a role that is not trusted for
// its path, or shadowed by an earlier role, is never used.
func (c *Client) candidates(s *tufsession.Session, modelID string) ([]candidate, error) {
	if err := s.LoadRolesFor(modelID); err != nil {
		return nil, err
	}
	var out []candidate
	for p := range s.AllLoadedTargets() {
		pp, err := targets.ParseTargetPath(p)
		if err != nil || pp.ModelID != modelID || pp.File != targets.ManifestName {
			continue
		}
		tf, err := s.TargetInfo(p)
		if err != nil {
			if CodeOf(err) == TargetNotFound {
				continue // listed by a role that is not trusted for it
			}
			return nil, err
		}
		custom, err := targets.ParseCustom(p, tf.Custom)
		if err != nil || custom.Kind != targets.KindManifest || tf.Length > targets.MaxManifestSize {
			continue // not something this client may act on
		}
		v, _ := targets.ParseVersion(pp.Version)
		out = append(out, candidate{version: v, manifest: tf, custom: custom})
	}
	sort.Slice(out, func(i, j int) bool { return newerFirst(out[i].version, out[j].version) })
	return dropCaseCollisions(out), nil
}

// dropCaseCollisions removes the versions whose names differ only in
// case from another's (1.0.0-RC.1 and 1.0.0-rc.1): installed side by
// side, their directories would be one on a case-insensitive filesystem
// (an SD card), and the second install would replace the first. A
// repository never holds both unless written by another tool (mrepo
// refuses, verify reports VERSION_AMBIGUOUS); the device then acts on
// neither.
func dropCaseCollisions(cands []candidate) []candidate {
	n := map[string]int{}
	for _, c := range cands {
		n[targets.FoldName(c.version.String())]++
	}
	out := cands[:0]
	for _, c := range cands {
		if n[targets.FoldName(c.version.String())] == 1 {
			out = append(out, c)
		}
	}
	return out
}

// newerFirst orders versions newest first, totally: by semver precedence,
// then, between versions of equal precedence (which differ only in build
// metadata, which semver says does not count), by the version string in
// byte order. Every device then sees the same order, whatever order the
// metadata lists them in: "2.0.0" before "2.0.0+build.7". (A repository
// should not publish both: mrepo refuses to, and mrepo verify reports
// VERSION_AMBIGUOUS.)
func newerFirst(a, b targets.Version) bool {
	if c := a.Compare(b); c != 0 {
		return c > 0
	}
	return a.String() < b.String()
}
