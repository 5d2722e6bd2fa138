package targets

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func raw(s string) *json.RawMessage {
	r := json.RawMessage(s)
	return &r
}

func TestCustomBuildersRoundTrip(t *testing.T) {
	t.Parallel()
	m := publishedManifest()
	mc := ManifestCustom(m)
	want := &Custom{
		Kind: KindManifest, SchemaVersion: SchemaVersion, ModelID: m.ModelID, Version: m.Version,
		Compat: m.Compat, BuildTimestamp: m.BuildTimestamp, Files: []string{"empty.txt", "model.tflite"},
	}
	if !reflect.DeepEqual(mc, want) {
		t.Errorf("ManifestCustom = %+v", mc)
	}
	r, err := mc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCustom(ManifestPath(m.ModelID, m.Version), r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, want) {
		t.Errorf("manifest custom round trip: %+v", back)
	}

	pc := PayloadCustom(m, "model.tflite")
	r, err = pc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(*r); got != `{"kind":"model-payload","schema_version":1,"model_id":"detector","version":"1.2.0-rc.1","file":"model.tflite"}` {
		t.Errorf("payload custom JSON = %s", got)
	}
	back, err = ParseCustom(TargetPath(m.ModelID, m.Version, "model.tflite"), r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, pc) {
		t.Errorf("payload custom round trip: %+v", back)
	}
}

func TestParseCustom(t *testing.T) {
	t.Parallel()
	const (
		mpath = "models/det/1.0.0/manifest.json"
		ppath = "models/det/1.0.0/w.bin"
	)
	manifest := func(extra string) string {
		return `{"kind":"model-manifest","schema_version":1,"model_id":"det","version":"1.0.0","build_timestamp":"2024-01-01T00:00:00Z","files":["w.bin"]` + extra + `}`
	}
	payload := func(extra string) string {
		return `{"kind":"model-payload","schema_version":1,"model_id":"det","version":"1.0.0","file":"w.bin"` + extra + `}`
	}
	dpath := "models/det/1.0.0/deltas/0.9.0/w.bin"
	delta := func(extra string) string {
		return `{"kind":"model-delta","schema_version":1,"model_id":"det","version":"1.0.0","file":"w.bin","base_version":"0.9.0"` + extra + `}`
	}
	for _, c := range []struct {
		name, path, data string
		want             string // "" means accepted
	}{
		{"manifest", mpath, manifest(`,"variant":"lite","platforms":["linux/*"],"runtime":{"name":"ort"}`), ""},
		{"payload", ppath, payload(""), ""},
		{"manifest with epoch", mpath, manifest(`,"epoch":7`), ""},
		{"epoch at the bound", mpath, manifest(`,"epoch":1048576`), ""},
		{"epoch above the bound", mpath, manifest(`,"epoch":1048577`), "epoch 1048577 is above"},
		{"negative epoch", mpath, manifest(`,"epoch":-1`), "epoch"},
		{"fractional epoch", mpath, manifest(`,"epoch":1.5`), "epoch"},
		{"payload with epoch", ppath, payload(`,"epoch":1`), "carries no manifest fields"},
		{"delta with epoch", dpath, delta(`,"epoch":1`), "carries no manifest fields"},
		{"unknown field tolerated", ppath, payload(`,"signed_by_ci":"run-42"`), ""},
		{"critical known field", mpath, manifest(`,"variant":"lite","critical":["variant","files"]`), ""},

		{"nil", ppath, "", "has no custom metadata"},
		{"critical unknown field", mpath, manifest(`,"max_memory_mb":512,"critical":["max_memory_mb"]`), `"max_memory_mb"`},
		{"critical unknown on payload", ppath, payload(`,"critical":["encryption"]`), `"encryption"`},
		{"unknown kind", ppath, strings.Replace(payload(""), "model-payload", "model-bundle", 1), `unknown kind "model-bundle"`},
		{"delta kind on a payload path", ppath, strings.Replace(payload(""), "model-payload", "model-delta", 1), `a delta target must be named`},
		{"no kind", ppath, strings.Replace(payload(""), `"kind":"model-payload",`, "", 1), `unknown kind ""`},
		{"schema_version 2", ppath, strings.Replace(payload(""), `"schema_version":1`, `"schema_version":2`, 1), "schema_version 2"},
		{"schema_version missing", ppath, strings.Replace(payload(""), `"schema_version":1,`, "", 1), "schema_version 0"},
		{"model_id disagrees", "models/other/1.0.0/w.bin", payload(""), "disagree with the path"},
		{"version disagrees", "models/det/1.0.1/w.bin", payload(""), "disagree with the path"},
		{"file disagrees", "models/det/1.0.0/x.bin", payload(""), "disagrees with the path"},
		{"payload with compat", ppath, payload(`,"variant":"lite"`), "carries no manifest fields"},
		{"payload with files", ppath, payload(`,"files":["w.bin"]`), "carries no manifest fields"},
		{"payload with build_timestamp", ppath, payload(`,"build_timestamp":"2024-01-01T00:00:00Z"`), "carries no manifest fields"},
		{"manifest kind elsewhere", ppath, manifest(""), "must be named manifest.json"},
		{"payload kind at manifest path", mpath, strings.Replace(payload(""), `"w.bin"`, `"manifest.json"`, 1), "cannot be named manifest.json"},
		{"manifest with file", mpath, manifest(`,"file":"w.bin"`), "no file field"},
		{"manifest without build_timestamp", mpath, strings.Replace(manifest(""), `"build_timestamp":"2024-01-01T00:00:00Z",`, "", 1), "build_timestamp is missing"},
		{"manifest without files", mpath, strings.Replace(manifest(""), `,"files":["w.bin"]`, "", 1), "files must list"},
		{"manifest file escape", mpath, strings.Replace(manifest(""), `["w.bin"]`, `["../../../etc/passwd"]`, 1), "escapes"},
		{"manifest file twice", mpath, strings.Replace(manifest(""), `["w.bin"]`, `["w.bin","w.bin"]`, 1), "listed twice"},
		{"manifest bad compat", mpath, manifest(`,"platforms":["LINUX"]`), "not os/arch"},
		{"path outside models", "other/det/1.0.0/w.bin", payload(""), "is not models/"},
		{"path escape", "models/../1.0.0/w.bin", payload(""), "model_id"},
		{"path file escape", "models/det/1.0.0/..", payload(""), "escapes"},
		{"not an object", ppath, `["kind"]`, "not a JSON object"},
		{"null", ppath, `null`, "not a JSON object"},
		{"trailing", ppath, payload("") + `{}`, "trailing data"},
		{"wrong type", ppath, strings.Replace(payload(""), `"schema_version":1`, `"schema_version":"1"`, 1), `"schema_version"`},
		{"float", ppath, strings.Replace(payload(""), `"schema_version":1`, `"schema_version":1.0e0`, 1), `"schema_version"`},
		// Delta patches and the manifest's list of them.
		{"delta", dpath, delta(""), ""},
		{"manifest with deltas", mpath, manifest(`,"deltas":{"w.bin":[{"base":"0.9.0","target":"models/det/1.0.0/deltas/0.9.0/w.bin"}]}`), ""},
		{"delta base disagrees", "models/det/1.0.0/deltas/0.8.0/w.bin", delta(""), "disagrees with the path"},
		{"delta file disagrees", "models/det/1.0.0/deltas/0.9.0/x.bin", delta(""), "disagrees with the path"},
		{"delta base not older", "models/det/1.0.0/deltas/1.0.0/w.bin", strings.Replace(delta(""), `"0.9.0"`, `"1.0.0"`, 1), "not older"},
		{"delta with compat", dpath, delta(`,"variant":"lite"`), "carries no manifest fields"},
		{"delta of the manifest", "models/det/1.0.0/deltas/0.9.0/manifest.json", delta(""), "the manifest has no delta"},
		{"delta path, payload kind", dpath, strings.Replace(payload(""), `"file":"w.bin"`, `"file":"w.bin","base_version":"0.9.0"`, 1), "only a delta target"},
		{"payload with base_version", ppath, payload(`,"base_version":"0.9.0"`), "no base version"},
		{"manifest with base_version", mpath, manifest(`,"base_version":"0.9.0"`), "no base_version"},
		{"deltas for an unlisted file", mpath, manifest(`,"deltas":{"x.bin":[{"base":"0.9.0","target":"models/det/1.0.0/deltas/0.9.0/x.bin"}]}`), "not one of the files"},
		{"deltas with a newer base", mpath, manifest(`,"deltas":{"w.bin":[{"base":"1.1.0","target":"models/det/1.0.0/deltas/1.1.0/w.bin"}]}`), "not older"},
		{"deltas base twice", mpath, manifest(`,"deltas":{"w.bin":[{"base":"0.9.0","target":"models/det/1.0.0/deltas/0.9.0/w.bin"},{"base":"0.9.0","target":"models/det/1.0.0/deltas/0.9.0/w.bin"}]}`), "twice"},
		{"deltas other target", mpath, manifest(`,"deltas":{"w.bin":[{"base":"0.9.0","target":"models/det/1.0.0/w.bin"}]}`), "want \"models/det/1.0.0/deltas/0.9.0/w.bin\""},
		{"deltas empty list", mpath, manifest(`,"deltas":{"w.bin":[]}`), "must list"},
		{"too large", ppath, payload(`,"pad":"` + strings.Repeat("x", MaxManifestSize) + `"`), "too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r *json.RawMessage
			if c.data != "" {
				r = raw(c.data)
			}
			got, err := ParseCustom(c.path, r)
			if c.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if got.ModelID != "det" || got.Version != "1.0.0" {
					t.Errorf("parsed %+v", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			if !errors.Is(err, ErrCustom) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want ErrCustom mentioning %q", err, c.want)
			}
			if !strings.Contains(err.Error(), c.path) {
				t.Errorf("error %q does not name the target %s", err, c.path)
			}
		})
	}
	if _, err := ParseCustom(ppath, raw("")); !errors.Is(err, ErrCustom) {
		t.Errorf("empty raw message: %v", err)
	}
}

// Signed JSON must mean one thing to every parser: keys are matched
// exactly and never repeated, even where unknown fields are tolerated.
func TestParseCustomRejectsAmbiguousJSON(t *testing.T) {
	t.Parallel()
	const p = "models/m/1.0.0/model.bin"
	good := `{"kind":"model-payload","schema_version":1,"model_id":"m","version":"1.0.0","file":"model.bin"}`
	raw := json.RawMessage(good)
	if _, err := ParseCustom(p, &raw); err != nil {
		t.Fatalf("baseline rejected: %v", err)
	}
	for name, doc := range map[string]string{
		"case-folded key":       `{"kind":"model-payload","schema_version":1,"model_id":"m","Version":"1.0.0","file":"model.bin"}`,
		"duplicate key":         `{"kind":"model-payload","schema_version":1,"model_id":"m","version":"1.0.0","file":"model.bin","file":"other.bin"}`,
		"duplicate unknown key": `{"kind":"model-payload","schema_version":1,"model_id":"m","version":"1.0.0","file":"model.bin","x":1,"x":2}`,
	} {
		raw := json.RawMessage(doc)
		if c, err := ParseCustom(p, &raw); err == nil {
			t.Errorf("%s: accepted %+v", name, c)
		}
	}
	// An unknown field alone is tolerated (forward compatibility).
	raw = json.RawMessage(strings.TrimSuffix(good, "}") + `,"sampling":{"percent":5}}`)
	if _, err := ParseCustom(p, &raw); err != nil {
		t.Errorf("unknown field rejected: %v", err)
	}
}
