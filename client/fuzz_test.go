package client

// Fuzz tests for the state files the client reads back (the active
// pointer, state.json). Each checks properties, not only the absence of
// panics. Seeds are here and in testdata/fuzz/. The fuzzers of the
// mechanisms are with them in client/internal/....

import (
	"encoding/json"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/report"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/targets"
)

// stateFile writes data as a state file and returns the model's paths.
func stateFile(t *testing.T, name string, data []byte) devstate.ModelPaths {
	dir := t.TempDir()
	p := devstate.ModelPaths{FS: safefs.New(dir), Dir: dir, Staging: filepath.Join(dir, "staging")}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func FuzzReadPointer(f *testing.F) {
	for _, s := range []string{
		`{"model_id":"det","version":"1.0.0","activated_at":"2026-01-01T00:00:00Z"}`,
		`{"model_id":"det","version":"1.1.0","previous":"1.0.0","trial":true,"activated_at":"x"}`,
		`{"model_id":"other","version":"1.0.0"}`,
		`{"model_id":"det","version":"../../etc"}`,
		`{"model_id":"det","version":"1.0.0","previous":"/abs"}`,
		`{"model_id":"det","version":"1.0.0","extra":1}`,
		`{"model_id":"det","version":"1.0.0"} trailing`,
		`null`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := stateFile(t, devstate.ActiveFile, data)
		ptr, err := devstate.ReadPointer(p, "det")
		if err != nil {
			if CodeOf(err) != StateInvalid {
				t.Fatalf("code %s: %v", CodeOf(err), err)
			}
			return
		}
		if ptr == nil {
			t.Fatal("an existing pointer file read as none")
		}
		// Accepted pointers name this model and versions that are safe
		// path components.
		if ptr.ModelID != "det" {
			t.Fatalf("model %q", ptr.ModelID)
		}
		for _, v := range []string{ptr.Version, ptr.Previous} {
			if v == "" && v == ptr.Previous {
				continue
			}
			pv, err := targets.ParseVersion(v)
			if err != nil || strings.ContainsAny(v, `/\`) || v == "." || v == ".." {
				t.Fatalf("accepted version %q (%v)", v, err)
			}
			_ = pv
		}
		// What was accepted survives a write and a read unchanged.
		if err := devstate.WriteJSON(p.FS, p.Pointer(), ptr); err != nil {
			t.Fatal(err)
		}
		again, err := devstate.ReadPointer(p, "det")
		if err != nil || !reflect.DeepEqual(again, ptr) {
			t.Fatalf("round trip: %+v -> %+v (%v)", ptr, again, err)
		}
	})
}

// FuzzReadModelState: whatever state.json holds, reading it never fails
// (a damaged file must not stop the model for ever) and never forgets a
// mark: every version the file lists as bad, if it can be read that far,
// still counts as bad. What is read survives a write and a read, bounded.
func FuzzReadModelState(f *testing.F) {
	for _, s := range []string{
		`{"bad_versions":["1.1.0"]}`,
		`{"bad_versions":null,"last_result":{"time":"t","model_id":"det","outcome":"updated","bytes_downloaded":10}}`,
		`{"bad_versions":[],"last_result":{"bytes_downloaded":"x"}}`,
		`{"unknown":1}`, `[]`, `{}`,
		`{"bad_versions":["1.1.0","2.0.0"],"last_result":{"time":"t","skipped":[{"version":"3.0.0","co`,
		`{"bad_versions":["1.1.0"],"bad_through":"1.0.0","marks_lost":true}`,
		`{"bad_versions":["1.1.0"],"bad_through":"not a version"}`,
		`{"bad_versions":["../x"]}`,
		`{"bad_versions":["1.1.0"`,
		"\x00\xff garbage",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := stateFile(t, devstate.ModelStateFile, data)
		ms, damage := readModelState(p)
		if damage != nil && CodeOf(damage) != StateInvalid {
			t.Fatalf("damage code %s: %v", CodeOf(damage), damage)
		}
		if ms == nil || ms.BadVersions == nil {
			t.Fatalf("state %+v", ms)
		}
		if damage != nil && ms.LastResult != nil {
			t.Fatal("the last result of a damaged file was kept")
		}
		if len(ms.BadVersions) > devstate.MaxBadVersions {
			t.Fatalf("%d marks", len(ms.BadVersions))
		}
		for _, v := range ms.BadVersions {
			if !ms.IsBad(v) {
				t.Fatalf("%q listed but not bad", v)
			}
		}
		var lenient struct {
			BadVersions []string `json:"bad_versions"`
		}
		if json.Unmarshal(data, &lenient) == nil {
			for _, v := range lenient.BadVersions {
				if _, err := targets.ParseVersion(v); err == nil && !ms.IsBad(v) {
					t.Fatalf("mark %q forgotten (damage %v)", v, damage)
				}
			}
		}
		if err := writeModelState(p, ms); err != nil {
			t.Fatal(err)
		}
		again, damage := readModelState(p)
		if damage != nil {
			t.Fatalf("what was written reads as damaged: %v", damage)
		}
		if !reflect.DeepEqual(again.BadVersions, ms.BadVersions) || again.BadThrough != ms.BadThrough || again.MarksLost != ms.MarksLost ||
			!reflect.DeepEqual(again.LastResult, report.Stored(ms.LastResult)) {
			t.Fatalf("round trip: %+v -> %+v", ms, again)
		}
	})
}
