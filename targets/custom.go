package targets

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Kinds of target this toolkit publishes.
const (
	KindManifest = "model-manifest"
	KindPayload  = "model-payload"
)

// Custom is the custom metadata mrepo puts on every target it publishes.
// It is covered by the targets role's signature, so a device can trust it
// as soon as the TUF refresh succeeds: for a manifest target it carries the
// compatibility constraints and the list of payload files, which is all a
// device needs to decide eligibility and check free space before it
// downloads a byte.
type Custom struct {
	Kind          string `json:"kind"`
	SchemaVersion int    `json:"schema_version"`
	ModelID       string `json:"model_id"`
	Version       string `json:"version"`

	// Manifest targets only.
	Compat
	BuildTimestamp string   `json:"build_timestamp,omitempty"`
	Files          []string `json:"files,omitempty"`

	// Payload targets only: the file name inside the bundle.
	File string `json:"file,omitempty"`

	// Critical names fields a reader must understand to act on this target.
	Critical []string `json:"critical,omitempty"`
}

// ErrCustom marks every custom metadata validation failure.
var ErrCustom = errors.New("invalid target custom metadata")

// ManifestCustom builds the custom metadata of a completed manifest's target.
func ManifestCustom(m *Manifest) *Custom {
	return &Custom{
		Kind:           KindManifest,
		SchemaVersion:  SchemaVersion,
		ModelID:        m.ModelID,
		Version:        m.Version,
		Compat:         m.Compat,
		BuildTimestamp: m.BuildTimestamp,
		Files:          m.SortedFileNames(),
	}
}

// PayloadCustom builds the custom metadata of one payload file's target.
func PayloadCustom(m *Manifest, file string) *Custom {
	return &Custom{Kind: KindPayload, SchemaVersion: SchemaVersion, ModelID: m.ModelID, Version: m.Version, File: file}
}

// Marshal encodes c for TargetFiles.Custom. Only strings, integers, lists
// and objects appear, so it survives canonical JSON.
func (c *Custom) Marshal() (*json.RawMessage, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	raw := json.RawMessage(b)
	return &raw, nil
}

// ParseCustom decodes and validates the custom metadata of the target at
// targetPath. A target without custom metadata, of an unknown kind, or
// whose fields disagree with its path is an error: a device must never act
// on a target it does not fully understand.
func ParseCustom(targetPath string, raw *json.RawMessage) (*Custom, error) {
	if raw == nil || len(*raw) == 0 {
		return nil, fmt.Errorf("%w: target %s has no custom metadata", ErrCustom, targetPath)
	}
	if len(*raw) > MaxManifestSize {
		return nil, fmt.Errorf("%w: target %s: custom metadata too large", ErrCustom, targetPath)
	}
	var c Custom
	if err := decodeStrict(*raw, &c, false); err != nil {
		return nil, fmt.Errorf("%w: target %s: %v", ErrCustom, targetPath, err)
	}
	if err := c.validate(targetPath); err != nil {
		return nil, fmt.Errorf("%w: target %s: %v", ErrCustom, targetPath, err)
	}
	return &c, nil
}

func (c *Custom) validate(targetPath string) error {
	if c.SchemaVersion != SchemaVersion {
		return fmt.Errorf("schema_version %d is not supported (want %d)", c.SchemaVersion, SchemaVersion)
	}
	if err := checkCritical(c.Critical, c); err != nil {
		return err
	}
	pp, err := ParseTargetPath(targetPath)
	if err != nil {
		return err
	}
	if c.ModelID != pp.ModelID || c.Version != pp.Version {
		return fmt.Errorf("model_id/version %s/%s disagree with the path", c.ModelID, c.Version)
	}
	switch c.Kind {
	case KindManifest:
		if pp.File != ManifestName {
			return fmt.Errorf("a manifest target must be named %s", ManifestName)
		}
		if c.File != "" {
			return fmt.Errorf("a manifest target has no file field")
		}
		if err := c.Compat.Validate(); err != nil {
			return err
		}
		if c.BuildTimestamp == "" {
			return fmt.Errorf("build_timestamp is missing")
		}
		if len(c.Files) == 0 || len(c.Files) > MaxFiles {
			return fmt.Errorf("files must list 1-%d payload files", MaxFiles)
		}
		seen := map[string]bool{}
		for _, f := range c.Files {
			if err := CheckFileName(f); err != nil {
				return err
			}
			if seen[f] {
				return fmt.Errorf("file %q is listed twice", f)
			}
			seen[f] = true
		}
	case KindPayload:
		if pp.File == ManifestName {
			return fmt.Errorf("a payload target cannot be named %s", ManifestName)
		}
		if c.File != pp.File {
			return fmt.Errorf("file %q disagrees with the path", c.File)
		}
		if len(c.Files) > 0 || c.BuildTimestamp != "" || !c.Compat.isZero() {
			return fmt.Errorf("a payload target carries no manifest fields")
		}
	default:
		return fmt.Errorf("unknown kind %q", c.Kind)
	}
	return nil
}

func (c Compat) isZero() bool {
	return c.Variant == "" && c.MinAppVersion == "" && len(c.Platforms) == 0 && c.Runtime == nil &&
		c.InputSchemaHash == "" && c.OutputSchemaHash == "" && c.PreprocessConfigHash == "" && c.Quantization == ""
}
