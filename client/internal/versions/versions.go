// Package versions orders the published versions of a model the way
// every device must, whatever order the signed metadata lists them in,
// and drops the versions a case-insensitive filesystem could not hold
// side by side. It never imports package client, nor anything
// repository-side.
package versions

import "github.com/edgetuf/edgetuf/targets"

// NewerFirst orders versions newest first, totally: by semver precedence,
// then, between versions of equal precedence (which differ only in build
// metadata, which semver says does not count), by the version string in
// byte order. Every device then sees the same order, whatever order the
// metadata lists them in: "2.0.0" before "2.0.0+build.7". (A repository
// should not publish both: mrepo refuses to, and mrepo verify reports
// VERSION_AMBIGUOUS.)
func NewerFirst(a, b targets.Version) bool {
	if c := a.Compare(b); c != 0 {
		return c > 0
	}
	return a.String() < b.String()
}

// DropCaseCollisions removes the items whose versions differ only in
// case from another's (1.0.0-RC.1 and 1.0.0-rc.1): installed side by
// side, their directories would be one on a case-insensitive filesystem
// (an SD card), and the second install would replace the first. A
// repository never holds both unless written by another tool (mrepo
// refuses, verify reports VERSION_AMBIGUOUS); the device then acts on
// neither. It filters items in place.
func DropCaseCollisions[T any](items []T, version func(T) targets.Version) []T {
	n := map[string]int{}
	for _, it := range items {
		n[targets.FoldName(version(it).String())]++
	}
	out := items[:0]
	for _, it := range items {
		if n[targets.FoldName(version(it).String())] == 1 {
			out = append(out, it)
		}
	}
	return out
}
