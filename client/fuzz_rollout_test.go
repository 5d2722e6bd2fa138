package client

import (
	"encoding/json"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"reflect"
	"testing"
)

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
		if s.Attempts < 0 || s.Attempts > devstate.MaxAttempts || len(s.VerifyFailures) > devstate.MaxVerifyEntries {
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
