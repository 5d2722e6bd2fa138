package release

import (
	"errors"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// The rules on metadata alone; repo's add-target tests publish them end
// to end.

func TestCheckNewVersion(t *testing.T) {
	view := map[string]*metadata.TargetFiles{
		targets.ManifestPath("det", "1.0.0-rc.1"): {},
		targets.ManifestPath("det", "2.0.0"):      {},
	}
	for v, want := range map[string]error{
		"3.0.0":        nil,
		"2.0.0":        ErrVersionExists,
		"2.0.0+build7": ErrVersionExists,
		"1.5.0":        ErrVersionNotNewer,
		"1.0.0-RC.1":   ErrVersionExists,
	} {
		err := CheckNewVersion(view, &targets.Manifest{ModelID: "det", Version: v})
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", v, err, want)
		}
	}
}

func TestDeltaBasesAndPaths(t *testing.T) {
	m := &targets.Manifest{ModelID: "det", Version: "2.0.0"}
	view := map[string]*metadata.TargetFiles{}
	for from, want := range map[string]string{
		"1.0.0": "not published (no version of det is)",
		"2.0.0": "not older than the version being published",
	} {
		if _, err := DeltaBases(view, m, []string{from}); !errors.Is(err, ErrDeltaBase) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", from, err)
		}
	}
	got := Paths(m, []string{"model.bin"}, []Base{{Version: "1.0.0"}})
	want := []string{targets.ManifestPath("det", "2.0.0"), targets.TargetPath("det", "2.0.0", "model.bin"), targets.DeltaPath("det", "2.0.0", "1.0.0", "model.bin")}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Paths = %v, want %v", got, want)
	}
}
