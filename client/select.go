package client

import (
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Device describes what a device can run. Empty fields are unknown: a
// model that constrains an unknown field is not compatible (fail closed).
type Device struct {
	// AppVersion of the application that will run the model.
	AppVersion string
	// Runtime and RuntimeVersion name the inference runtime ("tflite", "2.14.1").
	Runtime        string
	RuntimeVersion string
	// Platform is OS/ARCH (default: this process's GOOS/GOARCH).
	Platform string
	// Variant, if set, accepts only models of that variant.
	Variant string
	// The schema and preprocessing digests the application was built for;
	// if set, a model that declares a different one is not compatible.
	InputSchemaHash      string
	OutputSchemaHash     string
	PreprocessConfigHash string
}

func (d Device) platform() string {
	if d.Platform != "" {
		return d.Platform
	}
	return runtime.GOOS + "/" + runtime.GOARCH
}

// Compatible reports why a model version's signed constraints rule this
// device out, or nil if they do not.
func (d Device) Compatible(c *targets.Compat) error {
	if d.Variant != "" && c.Variant != d.Variant {
		return fmt.Errorf("variant %q, device wants %q", c.Variant, d.Variant)
	}
	if c.MinAppVersion != "" {
		need, err := targets.ParseMinVersion(c.MinAppVersion)
		if err != nil {
			return fmt.Errorf("min_app_version: %v", err)
		}
		if d.AppVersion == "" {
			return fmt.Errorf("needs app >= %s and the device did not give its app version", c.MinAppVersion)
		}
		have, err := targets.ParseMinVersion(d.AppVersion)
		if err != nil {
			return fmt.Errorf("device app version: %v", err)
		}
		if have.Compare(need) < 0 {
			return fmt.Errorf("needs app >= %s, device has %s", c.MinAppVersion, d.AppVersion)
		}
	}
	if len(c.Platforms) > 0 {
		p := d.platform()
		os, _, _ := strings.Cut(p, "/")
		ok := false
		for _, q := range c.Platforms {
			if q == p || q == os+"/*" {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("built for %s, device is %s", strings.Join(c.Platforms, ", "), p)
		}
	}
	if c.Runtime != nil {
		if d.Runtime == "" {
			return fmt.Errorf("needs runtime %s and the device did not give its runtime", c.Runtime.Name)
		}
		if !strings.EqualFold(d.Runtime, c.Runtime.Name) {
			return fmt.Errorf("needs runtime %s, device has %s", c.Runtime.Name, d.Runtime)
		}
		if c.Runtime.MinVersion != "" {
			need, err := targets.ParseMinVersion(c.Runtime.MinVersion)
			if err != nil {
				return fmt.Errorf("runtime.min_version: %v", err)
			}
			have, err := targets.ParseMinVersion(d.RuntimeVersion)
			if err != nil {
				return fmt.Errorf("needs %s >= %s and the device's runtime version %q is not a version", c.Runtime.Name, c.Runtime.MinVersion, d.RuntimeVersion)
			}
			if have.Compare(need) < 0 {
				return fmt.Errorf("needs %s >= %s, device has %s", c.Runtime.Name, c.Runtime.MinVersion, d.RuntimeVersion)
			}
		}
	}
	for _, h := range []struct{ name, model, device string }{
		{"input_schema_hash", c.InputSchemaHash, d.InputSchemaHash},
		{"output_schema_hash", c.OutputSchemaHash, d.OutputSchemaHash},
		{"preprocess_config_hash", c.PreprocessConfigHash, d.PreprocessConfigHash},
	} {
		dev := strings.ToLower(strings.TrimPrefix(h.device, "sha256:"))
		if dev != "" && h.model != "" && dev != h.model {
			return fmt.Errorf("%s %s, device expects %s", h.name, short(h.model), short(dev))
		}
	}
	return nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

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
func (c *Client) candidates(s *tufSession, modelID string) ([]candidate, error) {
	if err := s.loadRolesFor(modelID); err != nil {
		return nil, err
	}
	var out []candidate
	for p := range s.allLoadedTargets() {
		pp, err := targets.ParseTargetPath(p)
		if err != nil || pp.ModelID != modelID || pp.File != targets.ManifestName {
			continue
		}
		tf, err := s.targetInfo(p)
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

// maxLoadedRoles bounds how many delegated roles one listing loads (hash
// bins count one each; mrepo writes at most 1024).
const maxLoadedRoles = 4096

// loadRolesFor loads, in delegation order, every delegated role that may
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
func (s *tufSession) loadRolesFor(modelID string) error {
	top := s.up.GetTrustedMetadataSet().Targets[metadata.TARGETS]
	if top == nil {
		return codes.Errorf(MetadataInvalid, nil, "no trusted targets metadata")
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
					return false, codes.Errorf(MetadataInvalid, nil, "more than %d delegated roles", maxLoadedRoles)
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
