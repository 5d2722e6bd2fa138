package targets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
)

// The model version index. In a repository whose top-level targets
// delegates to succinct hash bins, a model's targets are spread over many
// bins; so that a device lists a model's versions by looking up one
// target instead of downloading every bin, every publication also signs
// models/<model_id>/versions.json, in the bin its path hashes to: the
// model's published versions, in order. The index only names versions:
// everything a device uses about one comes from that version's own
// signed manifest target, so a wrong index can hide a version (as the
// bins' key holder can anyway) but never make a device accept anything.

// VersionIndexName is the last component of a model's version index path.
const VersionIndexName = "versions.json"

// MaxVersionIndexSize bounds a version index (about 50,000 versions).
const MaxVersionIndexSize = 1 << 20

// ErrVersionIndex marks every version index validation failure.
var ErrVersionIndex = errors.New("invalid version index")

// VersionIndexPath is the target path of modelID's version index:
// models/<model_id>/versions.json (3 components, so never a version's
// target path, which has 4 or 6).
func VersionIndexPath(modelID string) string {
	return ModelsDir + "/" + modelID + "/" + VersionIndexName
}

// IsVersionIndexPath reports whether p is the path of a model's version
// index, and whose.
func IsVersionIndexPath(p string) (modelID string, ok bool) {
	rest, found := strings.CutPrefix(p, ModelsDir+"/")
	if !found {
		return "", false
	}
	id, name, found := strings.Cut(rest, "/")
	if !found || name != VersionIndexName || CheckModelID(id) != nil {
		return "", false
	}
	return id, true
}

// VersionIndex is a model's version index: every version of the model
// published in the repository, unique, in ascending semantic version
// order (SortVersions).
type VersionIndex struct {
	Model    string   `json:"model"`
	Versions []string `json:"versions"`
}

// NewVersionIndex builds the index of modelID from its versions (in any
// order; duplicates are dropped). Every version must parse.
func NewVersionIndex(modelID string, versions []string) (*VersionIndex, error) {
	if err := CheckModelID(modelID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVersionIndex, err)
	}
	vs := make([]Version, 0, len(versions))
	seen := map[string]bool{}
	for _, s := range versions {
		if seen[s] {
			continue
		}
		seen[s] = true
		v, err := ParseVersion(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrVersionIndex, err)
		}
		vs = append(vs, v)
	}
	SortVersions(vs)
	vi := &VersionIndex{Model: modelID, Versions: make([]string, len(vs))}
	for i, v := range vs {
		vi.Versions[i] = v.String()
	}
	return vi, nil
}

// SortVersions sorts versions in the index's order: ascending semantic
// version, and versions that differ only in build metadata (which
// precedence ignores) by their text.
func SortVersions(vs []Version) {
	sort.Slice(vs, func(i, j int) bool { return versionLess(vs[i], vs[j]) })
}

func versionLess(a, b Version) bool {
	if c := a.Compare(b); c != 0 {
		return c < 0
	}
	return a.String() < b.String()
}

// Marshal is the index in canonical JSON: the bytes mrepo publishes.
func (vi *VersionIndex) Marshal() []byte {
	vs := vi.Versions
	if vs == nil {
		vs = []string{}
	}
	// Model IDs and versions are plain ASCII without quotes or escapes
	// (CheckModelID, ParseVersion), so encoding/json's compact output of
	// this struct, with its fields in sorted order, is canonical JSON.
	b, err := json.Marshal(struct {
		Model    string   `json:"model"`
		Versions []string `json:"versions"`
	}{vi.Model, vs})
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return b
}

// ParseVersionIndex parses the version index of modelID strictly: at most
// MaxVersionIndexSize bytes of canonical JSON (as Marshal writes it) with
// exactly the fields model and versions, the model named modelID, every
// version valid and the versions strictly ascending (so unique). Any
// failure wraps ErrVersionIndex.
func ParseVersionIndex(data []byte, modelID string) (*VersionIndex, error) {
	if len(data) > MaxVersionIndexSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d allowed", ErrVersionIndex, len(data), MaxVersionIndexSize)
	}
	var raw struct {
		Model    *string   `json:"model"`
		Versions *[]string `json:"versions"`
	}
	if err := jsonlimit.UnmarshalStrict(data, &raw, MaxVersionIndexSize); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVersionIndex, err)
	}
	if raw.Model == nil || raw.Versions == nil {
		return nil, fmt.Errorf("%w: model and versions are required", ErrVersionIndex)
	}
	if *raw.Model != modelID {
		return nil, fmt.Errorf("%w: the index of model %q is at the path of model %q", ErrVersionIndex, *raw.Model, modelID)
	}
	if err := CheckModelID(modelID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVersionIndex, err)
	}
	vi := &VersionIndex{Model: modelID, Versions: *raw.Versions}
	var prev Version
	for i, s := range vi.Versions {
		v, err := ParseVersion(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrVersionIndex, err)
		}
		if i > 0 && !versionLess(prev, v) {
			return nil, fmt.Errorf("%w: %q after %q: versions must be unique and in ascending order", ErrVersionIndex, s, prev.String())
		}
		prev = v
	}
	// One encoding only: duplicate keys, whitespace or escapes that the
	// decoder accepts are refused, so two indexes with the same content
	// are the same bytes.
	if !bytes.Equal(data, vi.Marshal()) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrVersionIndex)
	}
	return vi, nil
}
