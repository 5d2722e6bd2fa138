package eligibility

import (
	"encoding/json"
	"github.com/edgetuf/edgetuf/targets"
	"reflect"
	"strings"
	"testing"
)

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

// FuzzParseDeviceState: the device-state file (written by the
// application, maybe by a buggy or hostile one) never panics the parser;
// what it accepts is valid and survives a round trip unchanged. Seed
// corpus: testdata/fuzz/FuzzParseDeviceState.
func FuzzParseDeviceState(f *testing.F) {
	f.Add([]byte(`{"battery_percent":80,"charging":false,"network":"wifi","metered":false,"free_bytes":123,"settings":{"auto_update":true,"wifi_only":false,"quiet_window":"22:00-06:00"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseDeviceState(data)
		if err != nil {
			return
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("accepted an invalid state: %v", err)
		}
		out, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseDeviceState(out)
		if err != nil || !reflect.DeepEqual(st, back) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, st, back)
		}
	})
}
