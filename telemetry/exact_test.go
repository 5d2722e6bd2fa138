package telemetry

import (
	"errors"
	"strings"
	"testing"
)

// TestParseBatchKeysExact: encoding/json would accept a key given twice
// (keeping the last) or in another case ("ID" for "id"); the wire parser
// refuses both, at every level, with ErrInvalid, so that no two readers
// of one batch can see different reports.
func TestParseBatchKeysExact(t *testing.T) {
	const rep = `"id":"ffffffffffffffffffffffffffffffff","kind":"healthy","hour":"2026-12-01T11:00:00Z","model_id":"m","version":"2.0.0","cohort_percent":-1,"rate":10000`
	if _, err := ParseBatch([]byte(`{"schema":1,"reports":[{` + rep + `}]}`)); err != nil {
		t.Fatalf("good batch: %v", err)
	}
	for name, doc := range map[string]string{
		"duplicate schema":      `{"schema":1,"schema":1,"reports":[{` + rep + `}]}`,
		"duplicate reports":     `{"schema":1,"reports":[],"reports":[{` + rep + `}]}`,
		"duplicate report key":  `{"schema":1,"reports":[{` + rep + `,"kind":"rolled_back"}]}`,
		"upper-case batch key":  `{"Schema":1,"reports":[{` + rep + `}]}`,
		"upper-case report key": `{"schema":1,"reports":[{` + strings.Replace(rep, `"kind"`, `"KIND"`, 1) + `}]}`,
		"mixed-case report key": `{"schema":1,"reports":[{` + strings.Replace(rep, `"model_id"`, `"Model_ID"`, 1) + `}]}`,
		"case twin of a key":    `{"schema":1,"reports":[{` + rep + `,"Rate":1}]}`,
		"null field":            `{"schema":1,"reports":[{` + rep + `,"code":null}]}`,
	} {
		if _, err := ParseBatch([]byte(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// TestParseSamplingKeysExact: the same for the signed sampling
// configuration, rates map included (a duplicate rate key would let two
// readers sample differently).
func TestParseSamplingKeysExact(t *testing.T) {
	if _, err := ParseSampling([]byte(`{"format":"edgetuf-telemetry-v1","default":1000,"rates":{"failure":10000}}`)); err != nil {
		t.Fatalf("good sampling: %v", err)
	}
	for name, doc := range map[string]string{
		"duplicate default":  `{"format":"edgetuf-telemetry-v1","default":1000,"default":10}`,
		"duplicate rate":     `{"format":"edgetuf-telemetry-v1","default":1000,"rates":{"failure":10000,"failure":1}}`,
		"upper-case key":     `{"Format":"edgetuf-telemetry-v1","default":1000}`,
		"upper-case default": `{"format":"edgetuf-telemetry-v1","DEFAULT":1000}`,
	} {
		if _, err := ParseSampling([]byte(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
