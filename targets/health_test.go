package targets

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// healthManifest is a bundle manifest listing model.bin, in.bin (16
// bytes), out.bin (12 bytes) and raw.bin (5 bytes, size not given when
// rawSize is nil), with the given health section (JSON).
func healthManifest(health string) string {
	return `{"model_id":"m","version":"1.0.0","files":[` +
		`{"path":"model.bin"},{"path":"in.bin","size":16},{"path":"out.bin","size":12},{"path":"raw.bin","size":5},{"path":"nosize.bin"}],` +
		`"health":` + health + `}`
}

func TestHealthAccepted(t *testing.T) {
	t.Parallel()
	for _, h := range []string{
		`{"vectors":[{"name":"v","input":"in.bin","format":"float32le","expect":"out.bin"}]}`,
		`{"vectors":[{"name":"v","input":"in.bin","format":"float32le","expect":"out.bin","tolerance":{"abs":1e-4,"rel":1e-3},"range":{"min":0,"max":1},"finite":true}]}`,
		`{"vectors":[{"name":"v","input":"in.bin","format":"float32le","count":3,"finite":true}]}`,
		`{"vectors":[{"name":"v","input":"in.bin","format":"float32le","count":3,"range":{"max":-1.5}}]}`,
		`{"vectors":[{"name":"v","input":"in.bin","format":"float32le","expect":"out.bin","tolerance":{}}]}`,
		`{"vectors":[{"name":"a","input":"in.bin","format":"bytes","expect":"raw.bin"},{"name":"b","input":"in.bin","format":"bytes","expect":"in.bin"}]}`,
		`{"vectors":[{"name":"v","input":"in.bin","format":"float32le","expect":"nosize.bin"}]}`, // size checked when published
	} {
		m, err := ParseBundleManifest([]byte(healthManifest(h)))
		if err != nil {
			t.Errorf("%s: %v", h, err)
			continue
		}
		if m.Health == nil || len(m.Health.Vectors) == 0 {
			t.Errorf("%s: health section lost", h)
		}
	}
	// Without a files list, the names are checked at publication.
	if _, err := ParseBundleManifest([]byte(`{"model_id":"m","version":"1.0.0","health":{"vectors":[{"name":"v","input":"x.bin","format":"bytes","expect":"y.bin"}]}}`)); err != nil {
		t.Errorf("health without files: %v", err)
	}
}

func TestHealthRefused(t *testing.T) {
	t.Parallel()
	vec := func(fields string) string {
		return `{"vectors":[{"name":"v","input":"in.bin",` + fields + `}]}`
	}
	for _, c := range []struct{ health, want string }{
		{`{"vectors":[]}`, "health.vectors is empty"},
		{`{}`, "health.vectors is empty"},
		{`{"vectors":[` + strings.Repeat(`{"name":"v","input":"in.bin","format":"float32le","count":1,"finite":true},`, MaxVectors) + `{}]}`, "more than 32 vectors"},
		{`{"vectors":[{"input":"in.bin","format":"bytes","expect":"raw.bin"}]}`, `health.vectors[0]: name "": 1-64 characters`},
		{`{"vectors":[{"name":"a b","input":"in.bin","format":"bytes","expect":"raw.bin"}]}`, `name "a b"`},
		{`{"vectors":[{"name":"v","input":"in.bin","format":"bytes","expect":"raw.bin"},{"name":"v","input":"in.bin","format":"bytes","expect":"raw.bin"}]}`, `vector name "v" is used twice`},
		{`{"vectors":[{"name":"v","format":"bytes","expect":"raw.bin"}]}`, `health vector "v": input is missing`},
		{vec(`"format":"bytes","expect":"missing.bin"`), `health vector "v": expect "missing.bin" is not a payload file of the bundle`},
		{`{"vectors":[{"name":"v","input":"gone.bin","format":"bytes","expect":"raw.bin"}]}`, `input "gone.bin" is not a payload file of the bundle`},
		{`{"vectors":[{"name":"v","input":"../in.bin","format":"bytes","expect":"raw.bin"}]}`, `input: file "../in.bin": path escapes the bundle`},
		{vec(`"format":"bytes","expect":"manifest.json"`), `expect: `},
		{vec(`"expect":"raw.bin"`), `format is missing (bytes or float32le)`},
		{vec(`"format":"float64","expect":"raw.bin"`), `format "float64": want bytes or float32le`},
		{vec(`"format":"bytes"`), `format bytes needs expect`},
		{vec(`"format":"bytes","expect":"raw.bin","finite":true`), `apply to format float32le only`},
		{vec(`"format":"bytes","expect":"raw.bin","tolerance":{"abs":1}`), `apply to format float32le only`},
		{vec(`"format":"float32le","expect":"out.bin","count":3`), `give expect or count, not both`},
		{vec(`"format":"float32le","finite":true`), `count (the number of output values) must be 1-16777216`},
		{vec(`"format":"float32le","count":16777217,"finite":true`), `must be 1-16777216`},
		{vec(`"format":"float32le","count":-1,"finite":true`), `must be 1-16777216`},
		{vec(`"format":"float32le","count":3`), `checks nothing: give expect, range or finite`},
		{vec(`"format":"float32le","count":3,"finite":true,"tolerance":{"abs":1}`), `tolerance needs expect`},
		{vec(`"format":"float32le","expect":"out.bin","tolerance":{"abs":-1e-4}`), `tolerance abs and rel must not be negative`},
		{vec(`"format":"float32le","expect":"out.bin","tolerance":{"rel":-0.5}`), `tolerance abs and rel must not be negative`},
		{vec(`"format":"float32le","expect":"out.bin","tolerance":{"abs":1e999}`), `got JSON number 1e999`},
		{vec(`"format":"float32le","expect":"out.bin","tolerance":{"abs":"0.1"}`), `expected float64, got JSON string`},
		{vec(`"format":"float32le","expect":"out.bin","tolerance":{"abs":1,"ulps":2}`), `unknown field "health.vectors[].tolerance.ulps"`},
		{vec(`"format":"float32le","expect":"out.bin","range":{}`), `range needs min, max or both`},
		{vec(`"format":"float32le","expect":"out.bin","range":{"min":1,"max":0}`), `range min 1 is above max 0`},
		{vec(`"format":"float32le","expect":"raw.bin"`), `expect "raw.bin" is 5 bytes, not a whole number of float32 values`},
		{vec(`"format":"float32le","expect":"model.bin","Finite":true`), `names are case-sensitive`},
		{vec(`"format":"float32le","expect":"out.bin","finite":true,"finite":false`), `appears twice`},
	} {
		_, err := ParseBundleManifest([]byte(healthManifest(c.health)))
		if err == nil || !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant an ErrManifest containing %q", c.health, err, c.want)
		}
	}
}

// TestHealthCheckedWhenPublished: what a bundle manifest without a files
// list could not check (names, sizes) is checked on the completed
// manifest, so mrepo add-target refuses it before publishing, and a
// device refuses a published manifest that breaks the rules.
func TestHealthCheckedWhenPublished(t *testing.T) {
	t.Parallel()
	m, err := ParseBundleManifest([]byte(`{"model_id":"m","version":"1.0.0","health":{"vectors":[{"name":"v","input":"in.bin","format":"float32le","expect":"out.bin","finite":true}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	size := func(n int64) *int64 { return &n }
	m.SchemaVersion, m.BuildTimestamp = SchemaVersion, "2026-01-01T00:00:00Z"
	for _, c := range []struct {
		files []FileEntry
		want  string
	}{
		{[]FileEntry{{Path: "in.bin", SHA256: hexA, Size: size(8)}}, `expect "out.bin" is not a payload file of the bundle`},
		{[]FileEntry{{Path: "in.bin", SHA256: hexA, Size: size(8)}, {Path: "out.bin", SHA256: hexA, Size: size(6)}}, `not a whole number of float32 values`},
		{[]FileEntry{{Path: "in.bin", SHA256: hexA, Size: size(8)}, {Path: "out.bin", SHA256: hexA, Size: size(0)}}, `expect "out.bin" is empty`},
		{[]FileEntry{{Path: "in.bin", SHA256: hexA, Size: size(8)}, {Path: "out.bin", SHA256: hexA, Size: size(MaxVectorOutput + 4)}}, `more than 67108864`},
		{[]FileEntry{{Path: "in.bin", SHA256: hexA, Size: size(8)}, {Path: "out.bin", SHA256: hexA, Size: size(8)}}, ``},
	} {
		m.Files = c.files
		b, err := m.MarshalPublished()
		if c.want == "" {
			if err != nil {
				t.Fatalf("valid: %v", err)
			}
			back, err := ParsePublishedManifest(b)
			if err != nil || back.Health == nil || back.Health.Vectors[0] != m.Health.Vectors[0] {
				t.Fatalf("published health does not round-trip: %v\n%s", err, b)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("MarshalPublished: got %v, want %q", err, c.want)
		}
		// The same manifest as a device would read it.
		good := *m
		good.Files = []FileEntry{{Path: "in.bin", SHA256: hexA, Size: size(8)}, {Path: "out.bin", SHA256: hexA, Size: size(8)}}
		b, _ = good.MarshalPublished()
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		files := []map[string]any{}
		for _, f := range c.files {
			files = append(files, map[string]any{"path": f.Path, "sha256": f.SHA256, "size": *f.Size})
		}
		raw["files"] = files
		b, _ = json.Marshal(raw)
		if _, err := ParsePublishedManifest(b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParsePublishedManifest: got %v, want %q", err, c.want)
		}
	}
}

func TestVectorOutputSize(t *testing.T) {
	t.Parallel()
	if n := (&Vector{Expect: "o.bin", Count: 0}).OutputSize(40); n != 40 {
		t.Errorf("with expect: %d", n)
	}
	if n := (&Vector{Count: 3}).OutputSize(40); n != 12 {
		t.Errorf("with count: %d", n)
	}
}
