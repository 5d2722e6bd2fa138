package tufsession

import (
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"path/filepath"
	"strings"
)

// maxLoadedRoles bounds how many delegated roles one listing loads (hash
// bins count one each; mrepo writes at most 16384).
const maxLoadedRoles = 1 << 15

// LoadRolesFor loads, in delegation order, every delegated role that may
// sign a manifest of the model: the named roles with a path pattern that
// can match models/<modelID>/<version>/manifest.json, and every hash bin
// (a version's manifest may hash to any bin), with the roles they
// delegate to in turn. A terminating delegation that covers every
// manifest of the model ends the walk, as it ends every lookup of one.
// Listing the versions of a model this way costs one metadata download
// per bin the first time; afterwards only the bins whose version changed
// are downloaded again. Each role is verified against the delegator it is
// first reached through here, even if an earlier lookup loaded it through
// another (loadRole); one reached again through a second delegator is not
// walked again, as in a TUF lookup: what it lists is trusted only through
// the lookup of each path (targetInfo), which verifies every role on the
// path it walks against its delegator on that path.
func (s *Session) LoadRolesFor(modelID string) error {
	top := s.up.GetTrustedMetadataSet().Targets[metadata.TARGETS]
	if top == nil {
		return codes.Errorf(codes.MetadataInvalid, nil, "no trusted targets metadata")
	}
	loaded := map[string]bool{metadata.TARGETS: true}
	var walk func(parent string, md *metadata.Metadata[metadata.TargetsType]) (bool, error)
	walk = func(parent string, md *metadata.Metadata[metadata.TargetsType]) (bool, error) {
		d := md.Signed.Delegations
		if d == nil {
			return false, nil
		}
		type child struct {
			name string
			ends bool // terminating and covering every manifest of the model
		}
		var kids []child
		if d.Roles != nil {
			for _, r := range d.Roles {
				if mayList(r, modelID) {
					kids = append(kids, child{r.Name, r.Terminating && coversModel(r, modelID)})
				}
			}
		} else if d.SuccinctRoles != nil {
			for _, name := range d.SuccinctRoles.GetRoles() {
				kids = append(kids, child{name: name})
			}
		}
		for _, k := range kids {
			if !loaded[k.name] {
				if len(loaded) > maxLoadedRoles {
					return false, codes.Errorf(codes.MetadataInvalid, nil, "more than %d delegated roles", maxLoadedRoles)
				}
				loaded[k.name] = true
				child, err := s.loadRole(k.name, parent)
				if err != nil {
					return false, err
				}
				if child != nil {
					if stop, err := walk(k.name, child); stop || err != nil {
						return stop, err
					}
				}
			}
			if k.ends {
				return true, nil
			}
		}
		return false, nil
	}
	_, err := walk(metadata.TARGETS, top)
	return err
}

// manifestParts are the components of a manifest target path of the model
// (models/<modelID>/<version>/manifest.json); the version is unknown.
func manifestParts(modelID string) [4]string {
	return [4]string{targets.ModelsDir, modelID, "", targets.ManifestName}
}

// mayList reports whether a delegation may cover a manifest path of the
// model: a pattern of four components (TUF matches patterns component by
// component, and * never matches /) whose first, second and last match
// "models", the model ID and "manifest.json". Classic path_hash_prefixes
// delegations may cover anything.
func mayList(r metadata.DelegatedRole, modelID string) bool {
	if r.Paths == nil {
		return len(r.PathHashPrefixes) > 0
	}
	want := manifestParts(modelID)
	for _, p := range r.Paths {
		parts := strings.Split(p, "/")
		if len(parts) == 4 && match(parts[0], want[0]) && match(parts[1], want[1]) && match(parts[3], want[3]) {
			return true
		}
	}
	return false
}

// coversModel reports whether a delegation covers every manifest path of
// the model (its version component is "*").
func coversModel(r metadata.DelegatedRole, modelID string) bool {
	want := manifestParts(modelID)
	for _, p := range r.Paths {
		parts := strings.Split(p, "/")
		if len(parts) == 4 && match(parts[0], want[0]) && match(parts[1], want[1]) && parts[2] == "*" && match(parts[3], want[3]) {
			return true
		}
	}
	return false
}

// match is go-tuf's component match (filepath.Match, on '/'-free strings).
func match(pattern, s string) bool {
	ok, _ := filepath.Match(pattern, s)
	return ok
}
