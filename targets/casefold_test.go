package targets

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestCaseCollidingFileNames: payload names that differ only in case (or
// in trailing dots, which FAT and NTFS drop) would overwrite each other on
// a device's case-insensitive filesystem: refused in bundle and published
// manifests and in signed custom metadata; so is a payload that collides
// with manifest.json.
func TestCaseCollidingFileNames(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		files []string
		want  string
	}{
		{[]string{"Model.bin", "model.bin"}, `files "Model.bin" and "model.bin" differ only in case`},
		{[]string{"model.bin", "MODEL.BIN"}, "differ only in case"},
		{[]string{"model.bin", "model.bin."}, "trailing dots"},
		{[]string{"a", "b", "a"}, `file "a" is listed twice`},
		{[]string{"Manifest.json"}, "collides with manifest.json"},
		{[]string{"MANIFEST.JSON."}, "collides with manifest.json"},
	} {
		var entries []string
		for _, f := range c.files {
			entries = append(entries, `{"path":"`+f+`"}`)
		}
		_, err := ParseBundleManifest([]byte(`{"model_id":"m","version":"1.0.0","files":[` + strings.Join(entries, ",") + `]}`))
		if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bundle manifest with %q: %v, want %q", c.files, err, c.want)
		}
		b, _ := json.Marshal(c.files)
		raw := json.RawMessage(`{"kind":"model-manifest","schema_version":1,"model_id":"m","version":"1.0.0","build_timestamp":"2024-01-01T00:00:00Z","files":` + string(b) + `}`)
		if _, err := ParseCustom("models/m/1.0.0/manifest.json", &raw); !errors.Is(err, ErrCustom) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("custom metadata with %q: %v, want %q", c.files, err, c.want)
		}
	}
	pub := publishedManifest()
	extra := pub.Files[0]
	extra.Path = strings.ToUpper(extra.Path)
	pub.Files = append(pub.Files, extra)
	if _, err := pub.MarshalPublished(); err == nil || !strings.Contains(err.Error(), "differ only in case") {
		t.Errorf("published manifest: %v", err)
	}
	// Distinct names, whatever their case, are fine.
	if err := CheckDistinctNames([]string{"Model.bin", "model.onnx", "labels.txt", "Labels.TXT2"}); err != nil {
		t.Errorf("distinct names: %v", err)
	}
}
