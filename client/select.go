package client

import (
	"fmt"
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
// makes go-tuf load every delegated role that could sign for the model
// (by resolving a path that does not exist), then resolves each manifest
// path it found through the delegation tree, so a version signed by a role
// that is not trusted for it is never listed.
func (c *Client) candidates(s *tufSession, modelID string) ([]candidate, error) {
	probe := targets.ManifestPath(modelID, "0.0.0-probe.missing")
	if _, err := s.targetInfo(probe); err != nil && CodeOf(err) != TargetNotFound {
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
		if err != nil || custom.Kind != targets.KindManifest {
			continue // not something this client may act on
		}
		v, _ := targets.ParseVersion(pp.Version)
		out = append(out, candidate{version: v, manifest: tf, custom: custom})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version.Compare(out[j].version) > 0 })
	return out, nil
}
