package telemetry

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzParseSampling: ParseSampling never panics, fails only with
// ErrInvalid, and what it accepts keeps every rate in 1..FullRate for
// every kind and survives a round trip unchanged. Seeds: testdata/fuzz.
func FuzzParseSampling(f *testing.F) {
	f.Add([]byte(`{"format":"edgetuf-telemetry-v1","default":10000}`))
	f.Add([]byte(`{"format":"edgetuf-telemetry-v1","default":1000,"rates":{"failure":10000,"latency":50}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSampling(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		for _, k := range Kinds {
			if r := s.RateOf(k); r < 1 || r > FullRate {
				t.Fatalf("rate of %s: %d", k, r)
			}
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseSampling(out)
		if err != nil {
			t.Fatalf("re-encoded sampling refused: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(normal(s), normal(again)) {
			t.Fatalf("round trip changed %+v into %+v", s, again)
		}
	})
}

// normal treats an empty rates map as none.
func normal(s *Sampling) Sampling {
	c := *s
	if len(c.Rates) == 0 {
		c.Rates = nil
	}
	return c
}
