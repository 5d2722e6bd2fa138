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
	// KindDelta is a patch that rebuilds one payload file of a version
	// from the same file of an earlier version (package delta's format).
	KindDelta = "model-delta"
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
	// Epoch is the version's rollback epoch (manifest targets only; absent
	// means 0): a small integer that never decreases in version order
	// within a model. A hardware anti-rollback store keeps, per model, a
	// monotonic counter that a device raises to the epoch of each version
	// it activates, and refuses versions whose epoch is below it: the
	// semantic-version floor mapped onto a counter that can only count up.
	// mrepo assigns it when it publishes (see docs/design.md). It is
	// not critical: a device that does not know it keeps the file floor.
	Epoch uint64 `json:"epoch,omitempty"`
	// Deltas lists, per payload file, the patches published for it: a
	// device may rebuild the file from an installed base version only
	// through a patch listed here.
	Deltas map[string][]DeltaRef `json:"deltas,omitempty"`

	// Payload and delta targets: the file name inside the bundle.
	File string `json:"file,omitempty"`
	// Delta targets only: the version whose file the patch applies to.
	BaseVersion string `json:"base_version,omitempty"`

	// Manifest targets only: rollout controls (rollout.go). Each one
	// present is also listed in Critical.
	Rollout *Rollout    `json:"rollout,omitempty"`
	Revoked *Revocation `json:"revoked,omitempty"`
	Policy  *Policy     `json:"policy,omitempty"`

	// Encrypted (manifest targets) and Plaintext (payload and delta
	// targets of an encrypted version): encryption.go. Each one present
	// is also listed in Critical.
	Encrypted *Encryption `json:"encrypted,omitempty"`
	Plaintext *Plaintext  `json:"plaintext,omitempty"`

	// Critical names fields a reader must understand to act on this target.
	Critical []string `json:"critical,omitempty"`
}

// DeltaRef names one patch of a payload file in a manifest's custom
// metadata.
type DeltaRef struct {
	// Base is the version whose file the patch applies to.
	Base string `json:"base"`
	// Target is the patch's target path (DeltaPath).
	Target string `json:"target"`
}

// MaxEpoch bounds a rollback epoch: a hardware counter is raised by one
// per step, so an epoch stays a small count of releases (one per release
// for a million releases), never a timestamp or an encoded version.
const MaxEpoch = 1 << 20

// MaxCustomSize bounds the custom metadata of one target; like a manifest
// (whose file list and compatibility fields it repeats) it is small.
const MaxCustomSize = MaxManifestSize

// ErrCustom marks every custom metadata validation failure.
var ErrCustom = errors.New("invalid target custom metadata")

// ErrControl marks, besides ErrCustom, a custom metadata failure in a
// rollout control (rollout, revoked, policy: malformed, missing from
// critical, or on a target other than a manifest), so that a repository
// audit can report it apart from other custom metadata problems.
var ErrControl = errors.New("invalid rollout control")

// ManifestCustom builds the custom metadata of a completed manifest's
// target (with the manifest's encrypted field, and critical for it).
func ManifestCustom(m *Manifest) *Custom {
	c := &Custom{
		Kind:           KindManifest,
		SchemaVersion:  SchemaVersion,
		ModelID:        m.ModelID,
		Version:        m.Version,
		Compat:         m.Compat,
		BuildTimestamp: m.BuildTimestamp,
		Files:          m.SortedFileNames(),
		Encrypted:      m.Encrypted,
	}
	if m.Encrypted != nil {
		c.Critical = []string{FieldEncrypted}
	}
	return c
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
	if len(*raw) > MaxCustomSize {
		return nil, fmt.Errorf("%w: target %s: custom metadata too large", ErrCustom, targetPath)
	}
	var c Custom
	if err := decodeStrict(*raw, &c, false, MaxCustomSize); err != nil {
		return nil, fmt.Errorf("%w: target %s: %w", ErrCustom, targetPath, err)
	}
	if err := c.validate(targetPath); err != nil {
		if errors.Is(err, ErrControl) {
			return nil, fmt.Errorf("%w: target %s: %w", ErrCustom, targetPath, err)
		}
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
	if err := c.checkEncryptionFields(); err != nil {
		return err
	}
	pp, err := ParseTargetPath(targetPath)
	if err != nil {
		return err
	}
	if c.ModelID != pp.ModelID || c.Version != pp.Version {
		return fmt.Errorf("model_id/version %s/%s disagree with the path", c.ModelID, c.Version)
	}
	if c.Kind != KindDelta && pp.Base != "" {
		return fmt.Errorf("only a delta target is named %s", DeltaPath("<model_id>", "<version>", "<base>", "<file>"))
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
			seen[f] = true
		}
		if err := CheckDistinctNames(c.Files); err != nil {
			return err
		}
		if c.BaseVersion != "" {
			return fmt.Errorf("a manifest target has no base_version field")
		}
		if c.Epoch > MaxEpoch {
			return fmt.Errorf("epoch %d is above %d", c.Epoch, MaxEpoch)
		}
		if err := c.validateDeltas(seen); err != nil {
			return err
		}
		if err := c.validateControls(); err != nil {
			return controlErr{err}
		}
	case KindPayload:
		if pp.File == ManifestName {
			return fmt.Errorf("a payload target cannot be named %s", ManifestName)
		}
		if c.File != pp.File {
			return fmt.Errorf("file %q disagrees with the path", c.File)
		}
		if c.hasAnyControl() {
			return controlErr{fmt.Errorf("a payload target carries no manifest fields (rollout, revoked, policy belong to the manifest target)")}
		}
		if len(c.Files) > 0 || c.BuildTimestamp != "" || !c.Compat.isZero() || len(c.Deltas) > 0 || c.Epoch != 0 {
			return fmt.Errorf("a payload target carries no manifest fields")
		}
		if pp.Base != "" || c.BaseVersion != "" {
			return fmt.Errorf("a payload target has no base version")
		}
	case KindDelta:
		if pp.Base == "" {
			return fmt.Errorf("a delta target must be named %s", DeltaPath("<model_id>", "<version>", "<base>", "<file>"))
		}
		if c.File != pp.File || c.BaseVersion != pp.Base {
			return fmt.Errorf("file %q or base_version %q disagrees with the path", c.File, c.BaseVersion)
		}
		if err := checkDeltaBase(c.BaseVersion, c.Version); err != nil {
			return err
		}
		if c.hasAnyControl() {
			return controlErr{fmt.Errorf("a delta target carries no manifest fields (rollout, revoked, policy belong to the manifest target)")}
		}
		if len(c.Files) > 0 || c.BuildTimestamp != "" || !c.Compat.isZero() || len(c.Deltas) > 0 || c.Epoch != 0 {
			return fmt.Errorf("a delta target carries no manifest fields")
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

// MaxDeltaBases bounds the patches listed per payload file.
const MaxDeltaBases = 32

// validateDeltas checks a manifest's delta list: only listed files, each
// base older than this version and listed once, and each patch named
// exactly by DeltaPath, so the path alone says what it applies to.
func (c *Custom) validateDeltas(files map[string]bool) error {
	for f, refs := range c.Deltas {
		if !files[f] {
			return fmt.Errorf("deltas: %q is not one of the files", f)
		}
		if len(refs) == 0 || len(refs) > MaxDeltaBases {
			return fmt.Errorf("deltas: %q must list 1-%d patches", f, MaxDeltaBases)
		}
		bases := map[string]bool{}
		for _, r := range refs {
			if err := checkDeltaBase(r.Base, c.Version); err != nil {
				return fmt.Errorf("deltas: %q: %v", f, err)
			}
			if bases[r.Base] {
				return fmt.Errorf("deltas: %q lists base %s twice", f, r.Base)
			}
			bases[r.Base] = true
			if want := DeltaPath(c.ModelID, c.Version, r.Base, f); r.Target != want {
				return fmt.Errorf("deltas: %q from %s: target %q, want %q", f, r.Base, r.Target, want)
			}
		}
	}
	return nil
}

// checkDeltaBase requires base to be a version older than version.
func checkDeltaBase(base, version string) error {
	b, err := ParseVersion(base)
	if err != nil {
		return err
	}
	v, err := ParseVersion(version)
	if err != nil {
		return err
	}
	if b.Compare(v) >= 0 {
		return fmt.Errorf("base version %s is not older than %s", base, version)
	}
	return nil
}
