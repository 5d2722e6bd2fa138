package targets

import (
	"errors"
	"strings"
	"testing"
)

func TestVersionIndexRoundTrip(t *testing.T) {
	vi, err := NewVersionIndex("det", []string{"1.10.0", "1.2.0", "1.2.0", "1.2.0-rc.1", "0.9.0+b2", "0.9.0+b1"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"det","versions":["0.9.0+b1","0.9.0+b2","1.2.0-rc.1","1.2.0","1.10.0"]}`
	if got := string(vi.Marshal()); got != want {
		t.Fatalf("Marshal = %s, want %s", got, want)
	}
	back, err := ParseVersionIndex([]byte(want), "det")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(back.Versions, ",") != strings.Join(vi.Versions, ",") {
		t.Fatalf("parsed %v", back.Versions)
	}
	empty, _ := NewVersionIndex("det", nil)
	if got := string(empty.Marshal()); got != `{"model":"det","versions":[]}` {
		t.Fatalf("empty index: %s", got)
	}
	if VersionIndexPath("det") != "models/det/versions.json" {
		t.Fatal(VersionIndexPath("det"))
	}
	if id, ok := IsVersionIndexPath("models/det/versions.json"); !ok || id != "det" {
		t.Fatal("IsVersionIndexPath of an index path")
	}
	for _, p := range []string{"models/det/1.0.0/versions.json", "models/../versions.json", "x/det/versions.json", "models/det/versions.jso"} {
		if _, ok := IsVersionIndexPath(p); ok {
			t.Errorf("IsVersionIndexPath(%q) = true", p)
		}
	}
	if _, err := ParseTargetPath(VersionIndexPath("det")); err == nil {
		t.Fatal("an index path parses as a version's target path")
	}
}

func TestParseVersionIndexRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":                 `{"extra":1,"model":"det","versions":[]}`,
		"duplicate key":                 `{"model":"det","model":"det","versions":[]}`,
		"duplicate":                     `{"model":"det","versions":["1.0.0","1.0.0"]}`,
		"descending":                    `{"model":"det","versions":["1.1.0","1.0.0"]}`,
		"equal precedence out of order": `{"model":"det","versions":["1.0.0+b2","1.0.0+b1"]}`,
		"bad version":                   `{"model":"det","versions":["v1.0.0"]}`,
		"wrong model":                   `{"model":"other","versions":[]}`,
		"missing model":                 `{"versions":[]}`,
		"missing versions":              `{"model":"det"}`,
		"null versions":                 `{"model":"det","versions":null}`,
		"not canonical":                 `{"model": "det","versions":[]}`,
		"trailing":                      `{"model":"det","versions":[]} {}`,
		"not an object":                 `[]`,
		"too large":                     `{"model":"det","versions":["` + strings.Repeat("1", MaxVersionIndexSize) + `"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseVersionIndex([]byte(doc), "det"); !errors.Is(err, ErrVersionIndex) {
				t.Fatalf("ParseVersionIndex = %v, want ErrVersionIndex", err)
			}
		})
	}
	if _, err := NewVersionIndex("det", []string{"1.0"}); !errors.Is(err, ErrVersionIndex) {
		t.Fatalf("NewVersionIndex of a bad version = %v", err)
	}
	if _, err := NewVersionIndex("../x", nil); !errors.Is(err, ErrVersionIndex) {
		t.Fatalf("NewVersionIndex of a bad model ID = %v", err)
	}
}

func FuzzParseVersionIndex(f *testing.F) {
	for _, s := range []string{
		`{"model":"det","versions":[]}`,
		`{"model":"det","versions":["0.9.0+b1","0.9.0+b2","1.2.0-rc.1","1.2.0","1.10.0"]}`,
		`{"model":"det","versions":["1.0.0","1.0.0"]}`,
		`{"model":"det","model":"x","versions":[]}`,
		`{"model":"det","versions":["\u0031.0.0"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vi, err := ParseVersionIndex(data, "det")
		if err != nil {
			if !errors.Is(err, ErrVersionIndex) {
				t.Fatalf("error does not wrap ErrVersionIndex: %v", err)
			}
			return
		}
		// Accepted bytes are exactly what Marshal writes, and what
		// NewVersionIndex builds from the same versions.
		if string(vi.Marshal()) != string(data) {
			t.Fatalf("accepted %q but Marshal gives %q", data, vi.Marshal())
		}
		again, err := NewVersionIndex("det", vi.Versions)
		if err != nil || string(again.Marshal()) != string(data) {
			t.Fatalf("NewVersionIndex(%v) = %v, %v", vi.Versions, again, err)
		}
	})
}
