package targets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Seeds shared by the fuzzers; more live in testdata/fuzz/<FuzzName>/.
var manifestSeeds = []string{
	`{"model_id":"m","version":"1.0.0"}`,
	`{"schema_version":1,"model_id":"detector","version":"1.2.0-rc.1+b7","variant":"lite","min_app_version":"2.4",` +
		`"platforms":["linux/arm64","android/*"],"runtime":{"name":"onnxruntime","min_version":"1.17"},` +
		`"input_schema_hash":"sha256:` + strings.Repeat("AB", 32) + `","quantization":"int8","annotations":{"k":"v"},` +
		`"build_timestamp":"2024-03-01T12:00:00.5+01:00","files":[{"path":"model.onnx","sha256":"` + strings.Repeat("0a", 32) + `","size":10},{"path":"l.txt"}]}`,
	`{"model_id":"m","version":"1.0.0","build_timestamp":"0000-01-01T00:30:00+01:00"}`,
	`{"model_id":"m","version":"1.0.0","files":[{"path":"../x"}]}`,
	`{"model_id":"m","version":"1.0.0","critical":["variant"]}`,
	`{"model_id":"m","version":"1.0.0"} {}`,
	`{"model_id":"m","version":"1.0.0","health":{"vectors":[{"name":"v","input":"in.bin","format":"float32le","expect":"out.bin",` +
		`"tolerance":{"abs":1e-5,"rel":0.001},"range":{"min":-0,"max":1},"finite":true},{"name":"c","input":"in.bin","format":"float32le","count":2,"range":{"max":3}},` +
		`{"name":"b","input":"in.bin","format":"bytes","expect":"raw.bin"}]}}`,
	`{"model_id":"m","version":"1.0.0","files":[{"path":"in.bin"},{"path":"out.bin","size":6}],"health":{"vectors":[{"name":"v","input":"in.bin","format":"float32le","expect":"out.bin"}]}}`,
	`[]`,
}

func FuzzParseBundleManifest(f *testing.F) {
	for _, s := range manifestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseBundleManifest(data)
		if err != nil {
			if !errors.Is(err, ErrManifest) {
				t.Fatalf("error does not wrap ErrManifest: %v", err)
			}
			return
		}
		// Accepted manifests are valid and normalised.
		if err := m.validate(false); err != nil {
			t.Fatalf("accepted manifest does not validate: %v", err)
		}
		if len(m.Critical) > 0 || (m.SchemaVersion != 0 && m.SchemaVersion != SchemaVersion) {
			t.Fatalf("accepted critical %q / schema_version %d", m.Critical, m.SchemaVersion)
		}
		for _, h := range []string{m.InputSchemaHash, m.OutputSchemaHash, m.PreprocessConfigHash} {
			if h != "" && !isHexDigest(h) {
				t.Fatalf("hash %q not normalised", h)
			}
		}
		if m.BuildTimestamp != "" {
			if ts, err := time.Parse(TimeFormat, m.BuildTimestamp); err != nil || ts.Format(TimeFormat) != m.BuildTimestamp {
				t.Fatalf("build_timestamp %q not normalised: %v", m.BuildTimestamp, err)
			}
		}

		// Parsing is idempotent: the parsed manifest re-encoded parses to
		// the same manifest.
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseBundleManifest(b)
		if err != nil {
			t.Fatalf("re-encoded manifest rejected: %v\n%s", err, b)
		}
		if b2, _ := json.Marshal(m2); !bytes.Equal(b, b2) {
			t.Fatalf("not idempotent:\n%s\n%s", b, b2)
		}

		// Completed as AddTarget completes it, it is a valid published
		// manifest, and the custom metadata derived from it validates.
		p := *m
		p.SchemaVersion = SchemaVersion
		p.Files = nil
		files := m.Files
		if len(files) == 0 {
			// Every file of the directory: those the vectors name, or one.
			files = healthFiles(m.Health)
		}
		for _, fe := range files {
			size := int64(4 * len(fe.Path)) // fits float32le outputs
			if fe.Size != nil {
				size = *fe.Size
			}
			sum := sha256.Sum256([]byte(fe.Path))
			p.Files = append(p.Files, FileEntry{Path: fe.Path, SHA256: hex.EncodeToString(sum[:]), Size: &size})
		}
		if len(p.Files) == 0 {
			size := int64(0)
			p.Files = []FileEntry{{Path: "payload.bin", SHA256: strings.Repeat("0", 64), Size: &size}}
		}
		if p.BuildTimestamp == "" {
			p.BuildTimestamp = "2030-01-01T00:00:00Z"
		}
		checkPublishable(t, &p)
	})
}

// healthFiles lists the distinct files h's vectors name.
func healthFiles(h *Health) []FileEntry {
	var files []FileEntry
	if h == nil {
		return nil
	}
	for _, v := range h.Vectors {
		for _, name := range []string{v.Input, v.Expect} {
			if name != "" && !slices.ContainsFunc(files, func(f FileEntry) bool { return f.Path == name }) {
				files = append(files, FileEntry{Path: name})
			}
		}
	}
	return files
}

// checkPublishable: MarshalPublished accepts m, its output parses back and
// re-encodes to the same bytes, and the custom metadata AddTarget would
// sign for it parses and survives canonical JSON.
func checkPublishable(t *testing.T, m *Manifest) {
	t.Helper()
	out, err := m.MarshalPublished()
	if err != nil {
		t.Fatalf("MarshalPublished: %v", err)
	}
	back, err := ParsePublishedManifest(out)
	if err != nil {
		t.Fatalf("published manifest rejected: %v\n%s", err, out)
	}
	again, err := back.MarshalPublished()
	if err != nil || !bytes.Equal(out, again) {
		t.Fatalf("published manifest does not round-trip (%v):\n%s\n%s", err, out, again)
	}
	raw, err := ManifestCustom(m).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	checkCustom(t, ManifestPath(m.ModelID, m.Version), raw)
	for _, fe := range m.Files {
		raw, err := PayloadCustom(m, fe.Path).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		checkCustom(t, TargetPath(m.ModelID, m.Version, fe.Path), raw)
	}
}

func FuzzParsePublishedManifest(f *testing.F) {
	size := int64(3)
	pub := &Manifest{SchemaVersion: 1, ModelID: "det", Version: "1.0.0-rc.1", Compat: Compat{Variant: "lite", Platforms: []string{"linux/*"}},
		Annotations: map[string]string{"a": "b"}, BuildTimestamp: "2024-01-01T00:00:00Z",
		Files: []FileEntry{{Path: "w.bin", SHA256: strings.Repeat("ab", 32), Size: &size}}}
	b, _ := pub.MarshalPublished()
	f.Add(b)
	f.Add(bytes.Replace(b, []byte(`"schema_version": 1,`), []byte(`"schema_version": 1, "future": {"x": [1, 2]}, "critical": ["variant"],`), 1))
	f.Add(bytes.Replace(b, []byte(`"schema_version": 1,`), []byte(`"schema_version": 1, "critical": ["future"],`), 1))
	f.Add(bytes.Replace(b, []byte(`T00:00:00Z`), []byte(`T0:00:00.5Z`), 1))
	f.Add(bytes.Replace(b, []byte(`"schema_version": 1,`), []byte(`"schema_version": 1, `+encryptedJSON(EncryptionScheme, testRecipient, DeliveryDevice)+`, "critical": ["encrypted"],`), 1))
	for _, s := range manifestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParsePublishedManifest(data)
		if err != nil {
			if !errors.Is(err, ErrManifest) {
				t.Fatalf("error does not wrap ErrManifest: %v", err)
			}
			return
		}
		if m.SchemaVersion != SchemaVersion || len(m.Files) == 0 {
			t.Fatalf("accepted schema_version %d with %d files", m.SchemaVersion, len(m.Files))
		}
		if ts, err := time.Parse(TimeFormat, m.BuildTimestamp); err != nil || ts.Format(TimeFormat) != m.BuildTimestamp {
			t.Fatalf("accepted build_timestamp %q, which is not in canonical %s form", m.BuildTimestamp, TimeFormat)
		}
		for _, fe := range m.Files {
			if fe.Size == nil || *fe.Size < 0 || !isHexDigest(fe.SHA256) {
				t.Fatalf("accepted file entry %+v", fe)
			}
		}
		if e := m.Encrypted; e != nil && (!slices.Contains(m.Critical, FieldEncrypted) || e.Validate() != nil) {
			t.Fatalf("accepted encrypted %+v with critical %q", e, m.Critical)
		}
		checkPublishable(t, m)
	})
}

// checkCustom: raw parses for path, re-encodes to a fixed point, and can
// be signed by go-tuf (canonical JSON refuses floats).
func checkCustom(t *testing.T, path string, raw *json.RawMessage) {
	t.Helper()
	c, err := ParseCustom(path, raw)
	if err != nil {
		t.Fatalf("ParseCustom(%s): %v\n%s", path, err, *raw)
	}
	pp, err := ParseTargetPath(path)
	if err != nil {
		t.Fatalf("custom accepted for an invalid path %q: %v", path, err)
	}
	if c.ModelID != pp.ModelID || c.Version != pp.Version {
		t.Fatalf("custom %s/%s at %s", c.ModelID, c.Version, path)
	}
	switch c.Kind {
	case KindManifest:
		if pp.File != ManifestName {
			t.Fatalf("manifest custom at %s", path)
		}
	case KindPayload:
		if pp.File == ManifestName || c.File != pp.File {
			t.Fatalf("payload custom for %q at %s", c.File, path)
		}
	case KindDelta:
		if pp.Base == "" || c.BaseVersion != pp.Base || c.File != pp.File {
			t.Fatalf("delta custom for %q from %q at %s", c.File, c.BaseVersion, path)
		}
	default:
		t.Fatalf("accepted kind %q", c.Kind)
	}
	if c.Kind != KindManifest && c.hasAnyControl() {
		t.Fatalf("rollout controls accepted on a %s target", c.Kind)
	}
	for _, name := range []string{FieldRollout, FieldRevoked, FieldPolicy} {
		if c.hasControl(name) != slices.Contains(c.Critical, name) {
			t.Fatalf("control %s present=%v but critical=%v", name, c.hasControl(name), c.Critical)
		}
	}
	if e := c.Encrypted; e != nil && (c.Kind != KindManifest || !slices.Contains(c.Critical, FieldEncrypted) || e.Validate() != nil) {
		t.Fatalf("encrypted %+v accepted on a %s target with critical %q", e, c.Kind, c.Critical)
	}
	if p := c.Plaintext; p != nil && (c.Kind == KindManifest || !slices.Contains(c.Critical, FieldPlaintext) || p.Validate() != nil) {
		t.Fatalf("plaintext %+v accepted on a %s target with critical %q", p, c.Kind, c.Critical)
	}
	if c.Rollout != nil && (c.Rollout.BasisPoints < 0 || c.Rollout.BasisPoints > Buckets) {
		t.Fatalf("basis_points %d accepted", c.Rollout.BasisPoints)
	}
	r2, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ParseCustom(path, r2)
	if err != nil {
		t.Fatalf("re-encoded custom rejected: %v\n%s", err, *r2)
	}
	r3, _ := c2.Marshal()
	if !bytes.Equal(*r2, *r3) {
		t.Fatalf("custom does not round-trip:\n%s\n%s", *r2, *r3)
	}
	md := metadata.Targets()
	md.Signed.Targets[path] = &metadata.TargetFiles{Length: 1, Hashes: metadata.Hashes{"sha256": make([]byte, 32)}, Custom: r2, Path: path}
	if _, err := cjson.EncodeCanonical(md.Signed); err != nil {
		t.Fatalf("custom cannot be signed: %v\n%s", err, *r2)
	}
}

func FuzzParseCustom(f *testing.F) {
	f.Add("models/det/1.0.0/manifest.json", []byte(`{"kind":"model-manifest","schema_version":1,"model_id":"det","version":"1.0.0","variant":"lite","build_timestamp":"2024-01-01T00:00:00Z","files":["a","b"]}`))
	f.Add("models/det/1.0.0/w.bin", []byte(`{"kind":"model-payload","schema_version":1,"model_id":"det","version":"1.0.0","file":"w.bin"}`))
	f.Add("models/det/1.0.0/manifest.json", []byte(`{"kind":"model-payload","schema_version":1,"model_id":"det","version":"1.0.0","file":"manifest.json"}`))
	f.Add("models/det/1.0.0/w.bin", []byte(`{"kind":"model-payload","schema_version":1,"model_id":"det","version":"1.0.0","file":"w.bin","critical":["file"],"new":1.5}`))
	f.Add("models/det/1.0.0/manifest.json", []byte(`{"kind":"model-manifest","schema_version":1,"model_id":"det","version":"1.0.0","build_timestamp":"2024-01-01T00:00:00Z","files":["a"],"rollout":{"basis_points":500,"salt":"s","device_classes":["cam-v2"],"start":"2026-01-02T03:04:05Z"},"revoked":{"reason":"r","time":"2026-01-02T03:04:05Z"},"policy":{"unmetered_above_bytes":1,"min_battery_percent":30,"networks":["wifi"]},"critical":["rollout","revoked","policy"]}`))
	f.Add("models/det/1.0.0/manifest.json", []byte(`{"kind":"model-manifest","schema_version":1,"model_id":"det","version":"1.0.0","build_timestamp":"2024-01-01T00:00:00Z","files":["a"],"rollout":{"basis_points":0,"salt":"s","halt_reason":"x"},"critical":["rollout"]}`))
	f.Add("models/../1.0.0/w.bin", []byte(`{"kind":"model-payload","schema_version":1,"model_id":"..","version":"1.0.0","file":"w.bin"}`))
	// Encrypted versions (encryption.go).
	f.Add("models/det/1.0.0/manifest.json", []byte(`{"kind":"model-manifest","schema_version":1,"model_id":"det","version":"1.0.0","build_timestamp":"2024-01-01T00:00:00Z","files":["a"],`+encryptedJSON(EncryptionScheme, testRecipient, DeliveryFleet)+`,"critical":["encrypted"]}`))
	f.Add("models/det/1.0.0/w.bin", []byte(`{"kind":"model-payload","schema_version":1,"model_id":"det","version":"1.0.0","file":"w.bin",`+plaintextJSON+`,"critical":["plaintext"]}`))
	f.Add("models/det/1.0.0/deltas/0.9.0/w.bin", []byte(`{"kind":"model-delta","schema_version":1,"model_id":"det","version":"1.0.0","file":"w.bin","base_version":"0.9.0",`+plaintextJSON+`,"critical":["plaintext"]}`))
	f.Fuzz(func(t *testing.T, path string, data []byte) {
		raw := json.RawMessage(data)
		if _, err := ParseCustom(path, &raw); err != nil {
			if !errors.Is(err, ErrCustom) {
				t.Fatalf("error does not wrap ErrCustom: %v", err)
			}
			return
		}
		checkCustom(t, path, &raw)
	})
}

// refCompare is an independent implementation of semver precedence over
// the strings of two valid versions, with numbers of any size.
func refCompare(a, b string) int {
	split := func(s string) ([]string, []string) {
		s, _, _ = strings.Cut(s, "+")
		core, pre, hasPre := strings.Cut(s, "-")
		if !hasPre {
			return strings.Split(core, "."), nil
		}
		return strings.Split(core, "."), strings.Split(pre, ".")
	}
	isNum := func(s string) bool { return strings.Trim(s, "0123456789") == "" }
	num := func(x, y string) int { // digit strings without leading zeros
		if len(x) != len(y) {
			if len(x) < len(y) {
				return -1
			}
			return 1
		}
		return strings.Compare(x, y)
	}
	ca, pa := split(a)
	cb, pb := split(b)
	for i := 0; i < 3; i++ {
		if c := num(ca[i], cb[i]); c != 0 {
			return c
		}
	}
	switch {
	case pa == nil && pb == nil:
		return 0
	case pa == nil:
		return 1
	case pb == nil:
		return -1
	}
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, y := pa[i], pb[i]
		var c int
		switch {
		case isNum(x) && isNum(y):
			c = num(x, y)
		case isNum(x):
			c = -1
		case isNum(y):
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return num(strings.Repeat("1", len(pa)), strings.Repeat("1", len(pb)))
}

func FuzzParseVersion(f *testing.F) {
	for _, pair := range [][2]string{
		{"1.0.0", "1.0.0+b"},
		{"1.0.0-alpha", "1.0.0-alpha.1"},
		{"1.0.0-alpha.beta", "1.0.0-beta.11"},
		{"1.0.0-18446744073709551616", "1.0.0-99999999999999999999"},
		{"1.0.0--", "1.0.0-0a"},
		{"2", "2.14"},
		{"01.2.3", "v1.2.3"},
	} {
		f.Add(pair[0], pair[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, erra := ParseVersion(a)
		vb, errb := ParseVersion(b)
		for _, c := range []struct {
			s   string
			v   Version
			err error
		}{{a, va, erra}, {b, vb, errb}} {
			mv, merr := ParseMinVersion(c.s)
			if c.err != nil {
				if merr == nil {
					core, _, _ := strings.Cut(c.s, "+")
					core, _, _ = strings.Cut(core, "-")
					if strings.Count(core, ".") == 2 {
						t.Fatalf("ParseMinVersion accepts %q, which ParseVersion rejects (%v)", c.s, c.err)
					}
				}
				continue
			}
			if c.v.String() != c.s {
				t.Fatalf("String() = %q, parsed from %q", c.v.String(), c.s)
			}
			if merr != nil || mv.Compare(c.v) != 0 {
				t.Fatalf("ParseMinVersion(%q) = %v, %v", c.s, mv, merr)
			}
			if c.v.Compare(c.v) != 0 {
				t.Fatalf("%q is not equal to itself", c.s)
			}
			// String without the raw form re-parses to an equal version.
			bare := Version{Major: c.v.Major, Minor: c.v.Minor, Patch: c.v.Patch, Pre: c.v.Pre, Build: c.v.Build}
			if w, err := ParseVersion(bare.String()); err != nil || w.Compare(c.v) != 0 || bare.String() != c.s {
				t.Fatalf("%q formats as %q (%v)", c.s, bare.String(), err)
			}
		}
		if erra != nil || errb != nil {
			return
		}
		ab, ba := va.Compare(vb), vb.Compare(va)
		if ab != -ba || ab < -1 || ab > 1 {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		if want := refCompare(a, b); ab != want {
			t.Fatalf("Compare(%q, %q) = %d, semver precedence says %d", a, b, ab, want)
		}
		// Equal precedence means equal except for build metadata.
		strip := func(s string) string { s, _, _ = strings.Cut(s, "+"); return s }
		if (ab == 0) != (strip(a) == strip(b)) {
			t.Fatalf("Compare(%q, %q) = %d", a, b, ab)
		}
	})
}
