package targets

import (
	"strings"
	"testing"
)

func TestCheckFileName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"model.onnx", "weights_v2.bin", "a+b@c=d-e.f", "_x", "0", "a..b", "x.", strings.Repeat("a", 200),
	} {
		if err := CheckFileName(name); err != nil {
			t.Errorf("CheckFileName(%q) = %v, want accepted", name, err)
		}
	}
	for _, c := range []struct{ name, why string }{
		{"", "empty"},
		{"/etc/passwd", "absolute"},
		{"..", "escapes"},
		{"../x", "escapes"},
		{"a/../b", "escapes"},
		{"a/..", "escapes"},
		{"a/b", "flat"},
		{`a\b`, "flat"},
		{`..\x`, "flat"},
		{"manifest.json", "not a payload"},
		{".", "must be"},
		{".hidden", "must be"},
		{"-x", "must be"},
		{"a b", "must be"},
		{"a\x00b", "must be"},
		{"a\nb", "must be"},
		{"modèle.onnx", "must be"},
		{"a:b", "must be"},
		{strings.Repeat("a", 201), "must be"},
	} {
		err := CheckFileName(c.name)
		if err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("CheckFileName(%q) = %v, want error containing %q", c.name, err, c.why)
		}
	}
}

func TestCheckModelID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"m", "Model-1.2_x", "0", "a..b", strings.Repeat("m", 128)} {
		if err := CheckModelID(id); err != nil {
			t.Errorf("CheckModelID(%q) = %v, want accepted", id, err)
		}
	}
	for _, id := range []string{
		"", ".", "..", "../x", "a/b", "/a", `a\b`, "-a", ".a", "_a", "a b", "a+b", "a\x00", "é",
		strings.Repeat("m", 129),
	} {
		if err := CheckModelID(id); err == nil {
			t.Errorf("CheckModelID(%q) accepted, want rejected", id)
		}
	}
}

func TestTargetPaths(t *testing.T) {
	t.Parallel()
	if got := TargetPath("det", "1.2.0", "w.bin"); got != "models/det/1.2.0/w.bin" {
		t.Errorf("TargetPath = %q", got)
	}
	if got := ManifestPath("det", "1.2.0"); got != "models/det/1.2.0/manifest.json" {
		t.Errorf("ManifestPath = %q", got)
	}
	if got := TargetDir("det", "1.2.0"); got != "models/det/1.2.0" {
		t.Errorf("TargetDir = %q", got)
	}
}

func TestParseTargetPath(t *testing.T) {
	t.Parallel()
	pp, err := ParseTargetPath("models/det/1.2.0-rc.1+b7/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if pp != (ParsedPath{ModelID: "det", Version: "1.2.0-rc.1+b7", File: "model.onnx"}) {
		t.Errorf("got %+v", pp)
	}
	if pp, err := ParseTargetPath("models/det/1.2.0/manifest.json"); err != nil || pp.File != ManifestName {
		t.Errorf("manifest path: %+v, %v", pp, err)
	}
	for _, p := range []string{
		"",
		"models/det/1.2.0",
		"models/det/1.2.0/a/b",
		"/models/det/1.2.0/x",
		"other/det/1.2.0/x",
		"Models/det/1.2.0/x",
		"models/../1.2.0/x",
		"models/det/../x",
		"models/det/1.2.0/..",
		"models/det/1.2.0/.",
		"models/det/1.2.0/",
		"models//1.2.0/x",
		"models/det/v1.2.0/x",
		"models/det/1.2/x",
		"models/det/1.2.0/.hidden",
		`models/det/1.2.0/a\b`,
	} {
		if pp, err := ParseTargetPath(p); err == nil {
			t.Errorf("ParseTargetPath(%q) = %+v, want error", p, pp)
		}
	}
}
