package devstate

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"reflect"
	"testing"
)

func FuzzReadConfig(f *testing.F) {
	for _, s := range []string{
		`{"format":"mclient-state-v1","repo_url":"http://127.0.0.1:8080","device_class":"linux/arm64"}`,
		`{"format":"mclient-state-v1","repo_url":"file:///srv/repo","device_class":"x","min_version":"1.0.0","device_id":"d"}`,
		`{"format":"mclient-state-v2","repo_url":"http://x","device_class":"x"}`,
		`{"format":"mclient-state-v1","repo_url":"ftp://x","device_class":"x"}`,
		`{"format":"mclient-state-v1","repo_url":"file://relative","device_class":"x"}`,
		`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","auth_token_file":"/t","settings":{"runtime":"a@1","keep":3,"retries":0,"timeout":"1h"}}`,
		`{"format":"mclient-state-v1","repo_url":"http://x","device_class":"x","auth_header_file":"/h"}`,
		`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","settings":{"keep":-1,"health_timeout":"-1s"}}`,
		`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","fleet_key":"file:/etc/fleet.pem","key_server":"https://k","at_rest":"encrypted"}`,
		`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","fleet_key":"tpm:/dev/tpmrm0","key_server":"http://k","at_rest":"sealed"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := ReadConfig(dir)
		if err != nil {
			if codes.CodeOf(err) != codes.StateInvalid {
				t.Fatalf("code %s: %v", codes.CodeOf(err), err)
			}
			return
		}
		if c.Format != ConfigFormat || CheckConfig(c) != nil || checkEncryption(c) != nil || c.Settings.Keep < 0 || c.Settings.Retries != nil && *c.Settings.Retries < 0 {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// FuzzParseSchedule: backoff.json, as a damaged or hand-edited file may
// hold it, never panics the reader; what it accepts is bounded and
// survives a round trip. Seed corpus: testdata/fuzz/FuzzParseSchedule.
func FuzzParseSchedule(f *testing.F) {
	f.Add([]byte(`{"attempts":3,"not_before":"2026-06-01T12:05:15Z","last_code":"NETWORK","verify_failures":{"1.1.0":{"count":3,"until":"2026-06-02T12:00:00Z"}}}`))
	f.Add([]byte(`{"attempts":0}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSchedule(data)
		if err != nil {
			return
		}
		if s.Attempts < 0 || s.Attempts > MaxAttempts || len(s.VerifyFailures) > MaxVerifyEntries {
			t.Fatalf("accepted %+v", s)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseSchedule(out)
		if err != nil || !reflect.DeepEqual(s, back) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, s, back)
		}
	})
}
