package targets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const (
	hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hexB = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// bundleJSON returns a valid bundle manifest with one top-level field
// replaced (or removed, when value is nil), as JSON.
func bundleJSON(t testing.TB, field string, value any) []byte {
	t.Helper()
	m := map[string]any{
		"model_id":          "detector",
		"version":           "1.2.0",
		"variant":           "lite",
		"min_app_version":   "2.4",
		"platforms":         []string{"linux/arm64", "android/*"},
		"runtime":           map[string]any{"name": "onnxruntime", "min_version": "1.17"},
		"input_schema_hash": "sha256:" + strings.ToUpper(hexB),
		"quantization":      "int8",
		"annotations":       map[string]string{"changelog": "https://example.invalid/cl"},
		"build_timestamp":   "2024-03-01T12:00:00+01:00",
		"files":             []map[string]any{{"path": "model.onnx", "sha256": hexA, "size": 10}, {"path": "labels.txt"}},
	}
	if field != "" {
		if value == nil {
			delete(m, field)
		} else {
			m[field] = value
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseBundleManifestAccepts(t *testing.T) {
	t.Parallel()
	m, err := ParseBundleManifest(bundleJSON(t, "", nil))
	if err != nil {
		t.Fatal(err)
	}
	size := int64(10)
	want := &Manifest{
		ModelID: "detector",
		Version: "1.2.0",
		Compat: Compat{
			Variant:         "lite",
			MinAppVersion:   "2.4",
			Platforms:       []string{"linux/arm64", "android/*"},
			Runtime:         &Runtime{Name: "onnxruntime", MinVersion: "1.17"},
			InputSchemaHash: hexB, // prefix stripped, lower-cased
			Quantization:    "int8",
		},
		Annotations:    map[string]string{"changelog": "https://example.invalid/cl"},
		BuildTimestamp: "2024-03-01T11:00:00Z", // converted to UTC
		Files:          []FileEntry{{Path: "model.onnx", SHA256: hexA, Size: &size}, {Path: "labels.txt"}},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}

	// Only model_id and version are required.
	for _, c := range []struct{ in, check string }{
		{`{"model_id":"m","version":"0.1.0"}`, ""},
		{` {"model_id":"m","version":"0.1.0"} ` + "\n\t", "surrounding whitespace"},
		{`{"schema_version":1,"model_id":"m","version":"0.1.0"}`, "explicit schema_version"},
		{`{"model_id":"m","version":"0.1.0","build_timestamp":"2024-03-01T12:00:00.999Z"}`, "fraction dropped"},
		{`{"model_id":"m","version":"0.1.0","files":[{"path":"a","sha256":"SHA256:` + strings.ToUpper(hexA) + `","size":0}]}`, "upper-case prefix"},
		{`{"model_id":"m","version":"0.1.0","platforms":[]}`, "empty platforms"},
	} {
		m, err := ParseBundleManifest([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		switch c.check {
		case "fraction dropped":
			if m.BuildTimestamp != "2024-03-01T12:00:00Z" {
				t.Errorf("build_timestamp = %q", m.BuildTimestamp)
			}
		case "upper-case prefix":
			if m.Files[0].SHA256 != hexA || m.Files[0].Size == nil || *m.Files[0].Size != 0 {
				t.Errorf("file = %+v", m.Files[0])
			}
		}
	}
}

func TestParseBundleManifestRejects(t *testing.T) {
	t.Parallel()
	files := func(entries ...string) []json.RawMessage {
		var out []json.RawMessage
		for _, e := range entries {
			out = append(out, json.RawMessage(e))
		}
		return out
	}
	manyAnnotations := map[string]string{}
	for i := 0; i < 65; i++ {
		manyAnnotations[fmt.Sprint("k", i)] = "v"
	}
	var tooManyFiles []json.RawMessage
	for i := 0; i <= MaxFiles; i++ {
		tooManyFiles = append(tooManyFiles, json.RawMessage(fmt.Sprintf(`{"path":"f%d"}`, i)))
	}
	for _, c := range []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"empty", []byte(""), "empty file"},
		{"whitespace", []byte("  \n"), "empty file"},
		{"not JSON", []byte("model_id: m"), "syntax error"},
		{"array", []byte(`[]`), "not a JSON object"},
		{"null", []byte(`null`), "not a JSON object"},
		{"string", []byte(`"x"`), "not a JSON object"},
		{"truncated", []byte(`{"model_id":"m"`), "unexpected end of JSON"},
		{"case-insensitive field name", []byte(`{"Model_ID":"m","version":"1.0.0"}`), `case-sensitive (did you mean "model_id"?)`},
		{"duplicate key", []byte(`{"model_id":"m","version":"1.0.0","version":"2.0.0"}`), `"version" appears twice`},
		{"duplicate nested key", []byte(`{"model_id":"m","version":"1.0.0","runtime":{"name":"a","name":"b"}}`), `"runtime.name" appears twice`},
		{"duplicate annotation key", []byte(`{"model_id":"m","version":"1.0.0","annotations":{"a":"1","a":"2"}}`), `"annotations.a" appears twice`},
		{"case-insensitive nested field", []byte(`{"model_id":"m","version":"1.0.0","files":[{"PATH":"x"}]}`), `case-sensitive`},
		{"trailing object", []byte(`{"model_id":"m","version":"1.0.0"}{}`), "trailing data"},
		{"trailing garbage", []byte(`{"model_id":"m","version":"1.0.0"} x`), "trailing data"},
		{"unknown field", bundleJSON(t, "varient", "lite"), `unknown field "varient"`},
		{"unknown nested field", bundleJSON(t, "runtime", map[string]any{"name": "ort", "min": "1"}), `unknown field "runtime.min"`},
		{"wrong type", bundleJSON(t, "version", 1), `"version"`},
		{"too large", append(bundleJSON(t, "", nil), bytes.Repeat([]byte(" "), MaxManifestSize)...), "larger than"},
		{"model_id missing", bundleJSON(t, "model_id", nil), "model_id is missing"},
		{"version missing", bundleJSON(t, "version", nil), "version is missing"},
		{"model_id escape", bundleJSON(t, "model_id", "../etc"), "model_id"},
		{"model_id slash", bundleJSON(t, "model_id", "a/b"), "model_id"},
		{"version v-prefix", bundleJSON(t, "version", "v1.2.0"), "not a number"},
		{"version short", bundleJSON(t, "version", "1.2"), "not MAJOR.MINOR.PATCH"},
		{"version path escape", bundleJSON(t, "version", "../1.0.0"), "version"},
		{"schema_version 2", bundleJSON(t, "schema_version", 2), "schema_version 2"},
		{"critical", bundleJSON(t, "critical", []string{"variant"}), "critical is set by mrepo"},
		{"file escape", bundleJSON(t, "files", files(`{"path":"../x"}`)), "escapes"},
		{"file absolute", bundleJSON(t, "files", files(`{"path":"/etc/passwd"}`)), "absolute"},
		{"file subdir", bundleJSON(t, "files", files(`{"path":"a/b"}`)), "flat"},
		{"file backslash", bundleJSON(t, "files", files(`{"path":"..\\x"}`)), "flat"},
		{"file manifest", bundleJSON(t, "files", files(`{"path":"manifest.json"}`)), "not a payload"},
		{"file hidden", bundleJSON(t, "files", files(`{"path":".x"}`)), "must be"},
		{"file empty", bundleJSON(t, "files", files(`{"path":""}`)), "empty file name"},
		{"file twice", bundleJSON(t, "files", files(`{"path":"a"}`, `{"path":"a"}`)), "listed twice"},
		{"file sha short", bundleJSON(t, "files", files(`{"path":"a","sha256":"abcd"}`)), "64 lowercase hex"},
		{"file sha not hex", bundleJSON(t, "files", files(`{"path":"a","sha256":"`+strings.Repeat("g", 64)+`"}`)), "64 lowercase hex"},
		{"file size negative", bundleJSON(t, "files", files(`{"path":"a","size":-1}`)), "negative size"},
		{"file size fraction", bundleJSON(t, "files", files(`{"path":"a","size":1.5}`)), `"files.size"`},
		{"too many files", bundleJSON(t, "files", tooManyFiles), "more than 1024 files"},
		{"platform case", bundleJSON(t, "platforms", []string{"Linux/arm64"}), "not os/arch"},
		{"platform no arch", bundleJSON(t, "platforms", []string{"linux"}), "not os/arch"},
		{"platform twice", bundleJSON(t, "platforms", []string{"linux/*", "linux/*"}), "listed twice"},
		{"runtime without name", bundleJSON(t, "runtime", map[string]any{}), "runtime.name is missing"},
		{"runtime bad name", bundleJSON(t, "runtime", map[string]any{"name": "ort rt"}), "runtime.name"},
		{"runtime bad version", bundleJSON(t, "runtime", map[string]any{"name": "ort", "min_version": "latest"}), "runtime.min_version"},
		{"min_app_version", bundleJSON(t, "min_app_version", "2.x"), "min_app_version"},
		{"variant", bundleJSON(t, "variant", "lite/../x"), "variant"},
		{"quantization", bundleJSON(t, "quantization", "int 8"), "quantization"},
		{"schema hash", bundleJSON(t, "output_schema_hash", "sha256:abcd"), "output_schema_hash"},
		{"sha512 hash", bundleJSON(t, "preprocess_config_hash", "sha512:"+hexA), "preprocess_config_hash"},
		{"annotation key empty", bundleJSON(t, "annotations", map[string]string{"": "x"}), "annotation"},
		{"annotation value long", bundleJSON(t, "annotations", map[string]string{"k": strings.Repeat("v", 4097)}), "annotation"},
		{"too many annotations", bundleJSON(t, "annotations", manyAnnotations), "more than 64 annotations"},
		{"build_timestamp format", bundleJSON(t, "build_timestamp", "2024-03-01 12:00:00"), "not RFC 3339"},
		{"build_timestamp no zone", bundleJSON(t, "build_timestamp", "2024-03-01T12:00:00"), "not RFC 3339"},
		// In UTC these fall outside years 0-9999, which the published
		// format (and every TUF client) cannot represent.
		{"build_timestamp before year 0", bundleJSON(t, "build_timestamp", "0000-01-01T00:00:00+01:00"), "build_timestamp"},
		{"build_timestamp after year 9999", bundleJSON(t, "build_timestamp", "9999-12-31T23:30:00-01:00"), "build_timestamp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseBundleManifest(c.data)
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			if !errors.Is(err, ErrManifest) {
				t.Errorf("error %v does not wrap ErrManifest", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// publishedManifest returns a valid published manifest.
func publishedManifest() *Manifest {
	s1, s2 := int64(10), int64(0)
	return &Manifest{
		SchemaVersion:  SchemaVersion,
		ModelID:        "detector",
		Version:        "1.2.0-rc.1",
		Compat:         Compat{Variant: "lite", Platforms: []string{"linux/arm64"}, Runtime: &Runtime{Name: "tflite"}},
		Annotations:    map[string]string{"z": "last", "a": "first"},
		BuildTimestamp: "2024-03-01T11:00:00Z",
		Files:          []FileEntry{{Path: "model.tflite", SHA256: hexA, Size: &s1}, {Path: "empty.txt", SHA256: hexB, Size: &s2}},
	}
}

func TestMarshalPublishedRoundTrip(t *testing.T) {
	t.Parallel()
	m := publishedManifest()
	data, err := m.MarshalPublished()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, []byte("}\n")) || !bytes.Contains(data, []byte("\n  \"model_id\": \"detector\",\n")) {
		t.Errorf("not two-space indented JSON with a final newline:\n%s", data)
	}
	if a, z := bytes.Index(data, []byte(`"a": "first"`)), bytes.Index(data, []byte(`"z": "last"`)); a < 0 || z < a {
		t.Errorf("annotations not sorted:\n%s", data)
	}
	back, err := ParsePublishedManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("round trip changed the manifest:\n got %+v\nwant %+v", back, m)
	}
	again, _ := back.MarshalPublished()
	if !bytes.Equal(again, data) {
		t.Errorf("MarshalPublished is not deterministic")
	}

	// MarshalPublished refuses incomplete manifests.
	for name, mutate := range map[string]func(*Manifest){
		"no files":           func(m *Manifest) { m.Files = nil },
		"no build_timestamp": func(m *Manifest) { m.BuildTimestamp = "" },
		"file without size":  func(m *Manifest) { m.Files[0].Size = nil },
		"file without hash":  func(m *Manifest) { m.Files[1].SHA256 = "" },
		"bad model_id":       func(m *Manifest) { m.ModelID = "a/b" },
	} {
		m := publishedManifest()
		mutate(m)
		if _, err := m.MarshalPublished(); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: MarshalPublished err = %v, want ErrManifest", name, err)
		}
	}
}

func TestParsePublishedManifest(t *testing.T) {
	t.Parallel()
	base, err := publishedManifest().MarshalPublished()
	if err != nil {
		t.Fatal(err)
	}
	// edit decodes base into a map, applies f and re-encodes it.
	edit := func(f func(map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(base, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	accept := []struct {
		name string
		data []byte
	}{
		{"as published", base},
		{"unknown field tolerated", edit(func(m map[string]any) { m["signing_policy"] = map[string]any{"x": 1} })},
		{"unknown compat-looking field tolerated", edit(func(m map[string]any) { m["max_memory_mb"] = 512 })},
		{"unknown nested field tolerated", edit(func(m map[string]any) { m["files"].([]any)[0].(map[string]any)["mode"] = "0644" })},
		{"critical names known fields", edit(func(m map[string]any) { m["critical"] = []string{"variant", "platforms", "runtime", "files"} })},
	}
	for _, c := range accept {
		m, err := ParsePublishedManifest(c.data)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if m.ModelID != "detector" || len(m.Files) != 2 || m.Compat.Variant != "lite" {
			t.Errorf("%s: parsed %+v", c.name, m)
		}
	}

	reject := []struct {
		name string
		data []byte
		want string
	}{
		{"critical unknown field", edit(func(m map[string]any) {
			m["max_memory_mb"] = 512
			m["critical"] = []string{"variant", "max_memory_mb"}
		}), `requires support for field "max_memory_mb"`},
		{"critical unknown absent field", edit(func(m map[string]any) { m["critical"] = []string{"future"} }), `"future"`},
		{"critical embedded struct name", edit(func(m map[string]any) { m["critical"] = []string{"Compat"} }), `"Compat"`},
		{"schema_version missing", edit(func(m map[string]any) { delete(m, "schema_version") }), "schema_version 0"},
		{"schema_version 2", edit(func(m map[string]any) { m["schema_version"] = 2 }), "schema_version 2"},
		{"files missing", edit(func(m map[string]any) { delete(m, "files") }), "files is empty"},
		{"file without size", edit(func(m map[string]any) { delete(m["files"].([]any)[0].(map[string]any), "size") }), "sha256 and size are required"},
		{"file without sha256", edit(func(m map[string]any) { delete(m["files"].([]any)[1].(map[string]any), "sha256") }), "sha256 and size are required"},
		{"file escape", edit(func(m map[string]any) { m["files"].([]any)[0].(map[string]any)["path"] = "../../x" }), "escapes"},
		{"upper-case sha256", edit(func(m map[string]any) { m["files"].([]any)[0].(map[string]any)["sha256"] = strings.ToUpper(hexA) }), "lowercase hex"},
		{"prefixed sha256", edit(func(m map[string]any) { m["files"].([]any)[0].(map[string]any)["sha256"] = "sha256:" + hexA }), "lowercase hex"},
		{"build_timestamp missing", edit(func(m map[string]any) { delete(m, "build_timestamp") }), "build_timestamp is missing"},
		{"build_timestamp with offset", edit(func(m map[string]any) { m["build_timestamp"] = "2024-03-01T12:00:00+01:00" }), "build_timestamp"},
		{"build_timestamp with fraction", edit(func(m map[string]any) { m["build_timestamp"] = "2024-03-01T12:00:00.5Z" }), "build_timestamp"},
		{"build_timestamp one-digit hour", edit(func(m map[string]any) { m["build_timestamp"] = "2024-03-01T1:00:00Z" }), "build_timestamp"},
		{"build_timestamp garbage", edit(func(m map[string]any) { m["build_timestamp"] = "yesterday" }), "build_timestamp"},
		{"bad platform", edit(func(m map[string]any) { m["platforms"] = []string{"linux"} }), "not os/arch"},
		{"bad version", edit(func(m map[string]any) { m["version"] = "1.2" }), "MAJOR.MINOR.PATCH"},
		{"trailing data", append(append([]byte{}, base...), []byte("{}")...), "trailing data"},
		{"array", []byte(`[{"model_id":"m"}]`), "not a JSON object"},
		{"null", []byte(`null`), "not a JSON object"},
		{"empty", []byte(``), "empty file"},
		{"syntax", []byte(`{"model_id":}`), "syntax error"},
		{"wrong type", edit(func(m map[string]any) { m["files"] = "a" }), `"files"`},
		{"too large", append(bytes.Repeat([]byte(" "), MaxManifestSize), base...), "larger than"},
	}
	for _, c := range reject {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParsePublishedManifest(c.data)
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want ErrManifest mentioning %q", err, c.want)
			}
		})
	}
}

func TestManifestFileAndSortedNames(t *testing.T) {
	t.Parallel()
	m := publishedManifest()
	if f := m.File("empty.txt"); f == nil || f.SHA256 != hexB {
		t.Errorf("File(empty.txt) = %+v", f)
	}
	if f := m.File("missing"); f != nil {
		t.Errorf("File(missing) = %+v", f)
	}
	if got := m.SortedFileNames(); !reflect.DeepEqual(got, []string{"empty.txt", "model.tflite"}) {
		t.Errorf("SortedFileNames = %q", got)
	}
}
