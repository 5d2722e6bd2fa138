package targets

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// SchemaVersion is the version of the published manifest and custom
// metadata format this package writes and fully understands.
const SchemaVersion = 1

// MaxManifestSize bounds the size of a manifest file. Manifests list
// files, not data; anything larger is an error, not a file to read.
// Manifests and custom metadata may also nest at most
// jsonlimit.MaxDepth (64) levels of arrays and objects.
const MaxManifestSize = 1 << 20

// MaxFiles bounds the number of payload files in one bundle.
const MaxFiles = 1024

// TimeFormat is how timestamps are written: RFC 3339, UTC, whole seconds.
const TimeFormat = "2006-01-02T15:04:05Z"

// Compat holds the compatibility constraints of a model version. A device
// installs the version only if it satisfies every constraint that is set.
// The same fields appear in the manifest and in the signed custom metadata
// of the manifest target, so a device decides before it downloads anything.
type Compat struct {
	// Variant names a flavour of the model ("lite", "high_accuracy").
	Variant string `json:"variant,omitempty"`
	// MinAppVersion is the lowest application version that can run the model.
	MinAppVersion string `json:"min_app_version,omitempty"`
	// Platforms lists the OS/ARCH pairs the model is built for; "os/*" matches
	// every architecture of an OS. Empty means every platform.
	Platforms []string `json:"platforms,omitempty"`
	// Runtime names the inference runtime and its lowest usable version.
	Runtime *Runtime `json:"runtime,omitempty"`
	// InputSchemaHash, OutputSchemaHash and PreprocessConfigHash are SHA-256
	// digests (64 lowercase hex digits) of canonical schema and
	// preprocessing definitions.
	InputSchemaHash      string `json:"input_schema_hash,omitempty"`
	OutputSchemaHash     string `json:"output_schema_hash,omitempty"`
	PreprocessConfigHash string `json:"preprocess_config_hash,omitempty"`
	// Quantization names the number format of the weights ("int8", "fp16").
	Quantization string `json:"quantization,omitempty"`
}

// Runtime is an inference runtime requirement.
type Runtime struct {
	Name       string `json:"name"`
	MinVersion string `json:"min_version,omitempty"`
}

// FileEntry is one payload file of a bundle.
type FileEntry struct {
	// Path is the file's name inside the bundle (bundles are flat).
	Path string `json:"path"`
	// SHA256 is 64 lowercase hex digits. Optional in a bundle manifest (where
	// it is checked if given), required in a published one.
	SHA256 string `json:"sha256,omitempty"`
	// Size in bytes. Optional in a bundle manifest, required when published.
	Size *int64 `json:"size,omitempty"`
}

// Manifest describes one model version. A bundle manifest is written by the
// release team (only model_id and version are required); mrepo completes it
// with the files' hashes and sizes and the build timestamp and publishes it
// as the target models/<model_id>/<version>/manifest.json.
type Manifest struct {
	SchemaVersion int    `json:"schema_version,omitempty"`
	ModelID       string `json:"model_id"`
	Version       string `json:"version"`
	Compat
	// Annotations carry free-form, non-security information (a changelog
	// link, training run ID). Devices never act on them.
	Annotations map[string]string `json:"annotations,omitempty"`
	// BuildTimestamp is when the version was built or published.
	BuildTimestamp string `json:"build_timestamp,omitempty"`
	// Files lists the payload files. In a bundle manifest it may be left out,
	// in which case every regular file of the bundle directory is published.
	Files []FileEntry `json:"files,omitempty"`
	// Health declares golden test vectors for the device's health check.
	Health *Health `json:"health,omitempty"`
	// Encrypted is set (by mrepo add-target --encrypt, never in a bundle
	// manifest) on an encrypted version, with the same value as the
	// manifest target's custom metadata, and listed in Critical. Files
	// then give each file's plaintext SHA-256 and size.
	Encrypted *Encryption `json:"encrypted,omitempty"`
	// Critical names fields that a reader must understand to use this
	// manifest; a reader that does not know one of them must reject it.
	Critical []string `json:"critical,omitempty"`
}

// ErrManifest marks every manifest validation failure.
var ErrManifest = errors.New("invalid manifest")

func manifestErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrManifest, fmt.Sprintf(format, args...))
}

// ParseBundleManifest parses a manifest written by a release team. It is
// strict: unknown fields are errors (a misspelt constraint must not be
// silently dropped), and so are trailing data and every invalid value.
// Hash fields are normalised to bare lowercase hex.
func ParseBundleManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, manifestErr("larger than %d bytes", MaxManifestSize)
	}
	var m Manifest
	if err := decodeStrict(data, &m, true, MaxManifestSize); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	if m.SchemaVersion != 0 && m.SchemaVersion != SchemaVersion {
		return nil, manifestErr("schema_version %d is not supported (this tool writes %d)", m.SchemaVersion, SchemaVersion)
	}
	if len(m.Critical) > 0 {
		return nil, manifestErr("critical is set by mrepo, not in bundle manifests")
	}
	if m.Encrypted != nil {
		return nil, manifestErr("encrypted is set by mrepo add-target --encrypt, not in bundle manifests")
	}
	normaliseHashes(&m)
	if err := m.validate(false); err != nil {
		return nil, err
	}
	if m.BuildTimestamp != "" {
		t, err := time.Parse(time.RFC3339, m.BuildTimestamp)
		if err != nil {
			return nil, manifestErr("build_timestamp %q is not RFC 3339", m.BuildTimestamp)
		}
		if y := t.UTC().Year(); y < 0 || y > 9999 {
			return nil, manifestErr("build_timestamp %q is outside years 0000-9999 in UTC", m.BuildTimestamp)
		}
		m.BuildTimestamp = t.UTC().Truncate(time.Second).Format(TimeFormat)
	}
	return &m, nil
}

// ParsePublishedManifest parses a manifest as published by mrepo and read
// back from a repository. Every published field must be present and valid.
// Unknown fields are tolerated so that older readers keep working when
// optional fields are added, unless they are named in "critical".
func ParsePublishedManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, manifestErr("larger than %d bytes", MaxManifestSize)
	}
	var m Manifest
	if err := decodeStrict(data, &m, false, MaxManifestSize); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	if m.SchemaVersion != SchemaVersion {
		return nil, manifestErr("schema_version %d is not supported (want %d)", m.SchemaVersion, SchemaVersion)
	}
	if err := checkCritical(m.Critical, &m); err != nil {
		return nil, manifestErr("%s", err)
	}
	if err := m.validate(true); err != nil {
		return nil, err
	}
	// time.Parse also takes one-digit hours and fractional seconds; only
	// the canonical form is valid.
	if t, err := time.Parse(TimeFormat, m.BuildTimestamp); err != nil || t.Format(TimeFormat) != m.BuildTimestamp {
		return nil, manifestErr("build_timestamp %q is not %s", m.BuildTimestamp, TimeFormat)
	}
	return &m, nil
}

// MarshalPublished encodes a completed manifest deterministically (fixed
// field order, sorted annotation keys, two-space indentation).
func (m *Manifest) MarshalPublished() ([]byte, error) {
	if err := m.validate(true); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// File returns the entry for a payload file name, or nil.
func (m *Manifest) File(name string) *FileEntry {
	for i := range m.Files {
		if m.Files[i].Path == name {
			return &m.Files[i]
		}
	}
	return nil
}

func (m *Manifest) validate(published bool) error {
	if m.ModelID == "" {
		return manifestErr("model_id is missing")
	}
	if err := CheckModelID(m.ModelID); err != nil {
		return manifestErr("%s", err)
	}
	if m.Version == "" {
		return manifestErr("version is missing")
	}
	if _, err := ParseVersion(m.Version); err != nil {
		return manifestErr("%s", err)
	}
	if err := m.Compat.Validate(); err != nil {
		return manifestErr("%s", err)
	}
	if len(m.Annotations) > 64 {
		return manifestErr("more than 64 annotations")
	}
	for k, v := range m.Annotations {
		if k == "" || len(k) > 128 || len(v) > 4096 {
			return manifestErr("annotation %.40q: keys are 1-128 bytes, values at most 4096", k)
		}
	}
	if len(m.Files) > MaxFiles {
		return manifestErr("more than %d files", MaxFiles)
	}
	if published {
		if m.BuildTimestamp == "" {
			return manifestErr("build_timestamp is missing")
		}
		if len(m.Files) == 0 {
			return manifestErr("files is empty")
		}
	}
	names := make([]string, len(m.Files))
	for i, f := range m.Files {
		names[i] = f.Path
	}
	if err := CheckDistinctNames(names); err != nil {
		return manifestErr("%s", err)
	}
	for _, f := range m.Files {
		if err := CheckFileName(f.Path); err != nil {
			return manifestErr("%s", err)
		}
		if f.SHA256 != "" && !isHexDigest(f.SHA256) {
			return manifestErr("file %q: sha256 must be 64 lowercase hex digits", f.Path)
		}
		if f.Size != nil && *f.Size < 0 {
			return manifestErr("file %q: negative size", f.Path)
		}
		if published && (f.SHA256 == "" || f.Size == nil) {
			return manifestErr("file %q: sha256 and size are required", f.Path)
		}
	}
	if m.Health != nil {
		if err := m.Health.validate(m); err != nil {
			return manifestErr("%s", err)
		}
	}
	if m.Encrypted != nil {
		if err := m.Encrypted.Validate(); err != nil {
			return manifestErr("%s", err)
		}
		if !slices.Contains(m.Critical, FieldEncrypted) {
			return manifestErr("encrypted is present but not listed in critical")
		}
	}
	return nil
}

var (
	variantPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	platformPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,31}/([a-z0-9][a-z0-9_.-]{0,31}|\*)$`)
	runtimePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// Validate checks every compatibility field that is set.
func (c *Compat) Validate() error {
	if c.Variant != "" && !variantPattern.MatchString(c.Variant) {
		return fmt.Errorf("variant %q: 1-64 characters of A-Z a-z 0-9 . _ -", c.Variant)
	}
	if c.MinAppVersion != "" {
		if _, err := ParseMinVersion(c.MinAppVersion); err != nil {
			return fmt.Errorf("min_app_version: %v", err)
		}
	}
	if len(c.Platforms) > 64 {
		return fmt.Errorf("more than 64 platforms")
	}
	seen := map[string]bool{}
	for _, p := range c.Platforms {
		if !platformPattern.MatchString(p) {
			return fmt.Errorf("platform %q is not os/arch (lowercase, arch may be *)", p)
		}
		if seen[p] {
			return fmt.Errorf("platform %q is listed twice", p)
		}
		seen[p] = true
	}
	if c.Runtime != nil {
		if c.Runtime.Name == "" {
			return fmt.Errorf("runtime.name is missing")
		}
		if !runtimePattern.MatchString(c.Runtime.Name) {
			return fmt.Errorf("runtime.name %q: 1-64 characters of A-Z a-z 0-9 . _ -", c.Runtime.Name)
		}
		if c.Runtime.MinVersion != "" {
			if _, err := ParseMinVersion(c.Runtime.MinVersion); err != nil {
				return fmt.Errorf("runtime.min_version: %v", err)
			}
		}
	}
	for name, h := range map[string]string{
		"input_schema_hash":      c.InputSchemaHash,
		"output_schema_hash":     c.OutputSchemaHash,
		"preprocess_config_hash": c.PreprocessConfigHash,
	} {
		if h != "" && !isHexDigest(h) {
			return fmt.Errorf("%s must be a SHA-256 digest: 64 hex digits, optionally prefixed sha256:", name)
		}
	}
	if c.Quantization != "" && !variantPattern.MatchString(c.Quantization) {
		return fmt.Errorf("quantization %q: 1-64 characters of A-Z a-z 0-9 . _ -", c.Quantization)
	}
	return nil
}

// normaliseHashes accepts "sha256:" prefixes and upper-case hex in a bundle
// manifest, so that published values compare byte for byte.
func normaliseHashes(m *Manifest) {
	norm := func(s string) string {
		t := strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "sha256:"), "SHA256:"))
		if isHexDigest(t) {
			return t
		}
		return s // left as is; validation reports it
	}
	m.InputSchemaHash = norm(m.InputSchemaHash)
	m.OutputSchemaHash = norm(m.OutputSchemaHash)
	m.PreprocessConfigHash = norm(m.PreprocessConfigHash)
	for i := range m.Files {
		m.Files[i].SHA256 = norm(m.Files[i].SHA256)
	}
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

func expectEOF(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		return manifestErr("trailing data after the JSON object")
	}
	return nil
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("JSON syntax error at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q: expected %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return "empty file"
	}
	return err.Error()
}

// SortedFileNames returns the manifest's payload file names in order.
func (m *Manifest) SortedFileNames() []string {
	names := make([]string, len(m.Files))
	for i, f := range m.Files {
		names[i] = f.Path
	}
	sort.Strings(names)
	return names
}
