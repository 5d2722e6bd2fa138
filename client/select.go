package client

import (
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
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
