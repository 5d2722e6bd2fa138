package client

// Fuzz tests for what the client parses from outside: HTTP response
// headers and bodies (Content-Range, target and metadata downloads), the
// state files in the state directory, the expiry of local metadata, and
// device compatibility against signed constraints. Each checks properties,
// not only the absence of panics. Seeds are here and in testdata/fuzz/.

import (
	"encoding/json"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
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
			!reflect.DeepEqual(again.LastResult, storedResult(ms.LastResult)) {
			t.Fatalf("round trip: %+v -> %+v", ms, again)
		}
	})
}

func FuzzReadConfig(f *testing.F) {
	for _, s := range []string{
		`{"format":"mclient-state-v1","repo_url":"http://127.0.0.1:8080","device_class":"linux/arm64"}`,
		`{"format":"mclient-state-v1","repo_url":"file:///srv/repo","device_class":"x","min_version":"1.0.0","device_id":"d"}`,
		`{"format":"mclient-state-v2","repo_url":"http://x","device_class":"x"}`,
		`{"format":"mclient-state-v1","repo_url":"ftp://x","device_class":"x"}`,
		`{"format":"mclient-state-v1","repo_url":"file://relative","device_class":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, devstate.ConfigFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := devstate.ReadConfig(dir)
		if err != nil {
			if CodeOf(err) != StateInvalid {
				t.Fatalf("code %s: %v", CodeOf(err), err)
			}
			return
		}
		if c.Format != devstate.ConfigFormat || CheckRepoURL(c.RepoURL) != nil {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// FuzzLocalExpiry: the unverified expiry read for offline checks agrees
// with go-tuf's own parser whenever go-tuf can read the file.
func FuzzLocalExpiry(f *testing.F) {
	for _, s := range []string{
		`{"signed":{"_type":"timestamp","spec_version":"1.0","version":3,"expires":"2030-01-01T00:00:00Z","meta":{"snapshot.json":{"version":3}}},"signatures":[]}`,
		`{"signed":{"_type":"targets","spec_version":"1.0","version":1,"expires":"2030-01-01T00:00:00.5+02:00","targets":{}},"signatures":[]}`,
		`{"signed":{"expires":"not a time"}}`,
		`{"signed":{"expires":"0001-01-01T00:00:00Z"}}`,
		`{"signed":{"expires":"2030-01-01T00:00:00Z"},"signed":{"expires":"2031-01-01T00:00:00Z"}}`,
		`{"Signed":{"Expires":"2030-01-01T00:00:00Z"}}`,
		`[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "timestamp.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		exp, ok := tufsession.LocalExpiry(p)
		if ok && exp.IsZero() {
			t.Fatal("ok with a zero expiry")
		}
		check := func(role string, want time.Time, err error) {
			if err != nil || want.IsZero() {
				return
			}
			if !ok || !exp.Equal(want) {
				t.Fatalf("go-tuf reads %s expiry %v, localExpiry %v %v", role, want, exp, ok)
			}
		}
		ts, err := metadata.Timestamp().FromBytes(data)
		if err == nil {
			check("timestamp", ts.Signed.Expires, nil)
		}
		sn, err := metadata.Snapshot().FromBytes(data)
		if err == nil {
			check("snapshot", sn.Signed.Expires, nil)
		}
		tg, err := metadata.Targets().FromBytes(data)
		if err == nil {
			check("targets", tg.Signed.Expires, nil)
		}
	})
}

// FuzzCompatible: signed constraints against what a device reports.
// Constraints on something the device did not report fail closed, and a
// version without constraints suits every device that asks for no variant.
func FuzzCompatible(f *testing.F) {
	f.Add("lite", "2.4", "linux/arm64", "onnxruntime", "1.17", "2.4.1", "linux/arm64", "onnxruntime", "1.17.0", "")
	f.Add("", "", "android/*", "", "", "", "android/arm", "", "", "")
	f.Add("", "1.x", "", "tflite", "zz", "1", "", "TFLite", "2", "lite")
	f.Fuzz(func(t *testing.T, variant, minApp, platform, rtName, rtMin, devApp, devPlatform, devRt, devRtVer, devVariant string) {
		c := targets.Compat{Variant: variant, MinAppVersion: minApp}
		if platform != "" {
			c.Platforms = []string{platform}
		}
		if rtName != "" {
			c.Runtime = &targets.Runtime{Name: rtName, MinVersion: rtMin}
		}
		d := Device{AppVersion: devApp, Platform: devPlatform, Runtime: devRt, RuntimeVersion: devRtVer, Variant: devVariant}
		err := d.Compatible(&c)
		if err == nil {
			if minApp != "" && devApp == "" {
				t.Fatal("min_app_version accepted from a device that gave no app version")
			}
			if rtName != "" && devRt == "" {
				t.Fatal("runtime constraint accepted from a device that gave no runtime")
			}
			if devVariant != "" && variant != devVariant {
				t.Fatalf("variant %q accepted by a device that wants %q", variant, devVariant)
			}
			if platform != "" && devPlatform != "" && platform != devPlatform && !strings.HasSuffix(platform, "/*") {
				t.Fatalf("platform %q accepted on %q", platform, devPlatform)
			}
		}
		if devVariant == "" && (Device{Platform: devPlatform}).Compatible(&targets.Compat{}) != nil {
			t.Fatal("a version without constraints refused")
		}
	})
}
