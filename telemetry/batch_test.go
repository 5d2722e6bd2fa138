package telemetry

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// fullReport uses every field.
func fullReport(i int) Report {
	return Report{
		ID: fmt.Sprintf("%032x", i+1), Kind: KindDownloaded, Hour: "2026-12-01T10:00:00Z",
		ModelID: "detector", Version: "1.2.0", FromVersion: "1.1.0", Code: "E_HASH_MISMATCH",
		Method: MethodDelta, Bytes: 1234, FullBytes: 99999, Duration: "10s-1m", LatencyMillis: 12,
		Count: 3, DeviceClass: "jetson-orin", OS: "linux", OSVersion: "6.1", AppVersion: "4.2.0+build.7",
		CohortPercent: 42, Rate: 1000,
	}
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseBatchRoundTrip: a batch using every field parses back to what
// was sent.
func TestParseBatchRoundTrip(t *testing.T) {
	want := Batch{Schema: Schema, Reports: []Report{fullReport(0), fullReport(1)}}
	got, err := ParseBatch(marshal(t, want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("got %+v\nwant %+v", *got, want)
	}
}

// TestParseBatchRefuses: every broken rule is ErrInvalid, and a batch
// with one bad report is refused whole.
func TestParseBatchRefuses(t *testing.T) {
	mutations := map[string]func(r *Report){
		"id too short":         func(r *Report) { r.ID = "abc" },
		"id upper case":        func(r *Report) { r.ID = "ABCDEF0123456789ABCDEF0123456789" },
		"unknown kind":         func(r *Report) { r.Kind = "exploded" },
		"hour not on the hour": func(r *Report) { r.Hour = "2026-12-01T10:30:00Z" },
		"hour not UTC":         func(r *Report) { r.Hour = "2026-12-01T10:00:00+02:00" },
		"hour garbage":         func(r *Report) { r.Hour = "yesterday" },
		"model id with a path": func(r *Report) { r.ModelID = "../etc" },
		"bad version":          func(r *Report) { r.Version = "one" },
		"bad from version":     func(r *Report) { r.FromVersion = "v/1" },
		"free-text code":       func(r *Report) { r.Code = "failed at /home/alice/model.bin" },
		"unknown method":       func(r *Report) { r.Method = "carrier-pigeon" },
		"negative bytes":       func(r *Report) { r.Bytes = -1 },
		"huge full bytes":      func(r *Report) { r.FullBytes = 1<<50 + 1 },
		"huge latency":         func(r *Report) { r.LatencyMillis = 1<<31 + 1 },
		"negative count":       func(r *Report) { r.Count = -5 },
		"unknown duration":     func(r *Report) { r.Duration = "forever" },
		"hostname as class":    func(r *Report) { r.DeviceClass = "alice's laptop" },
		"long os":              func(r *Report) { r.OS = strings.Repeat("x", 65) },
		"path as os version":   func(r *Report) { r.OSVersion = "/proc/version" },
		"app version space":    func(r *Report) { r.AppVersion = "1 2" },
		"cohort 100":           func(r *Report) { r.CohortPercent = 100 },
		"cohort -2":            func(r *Report) { r.CohortPercent = -2 },
		"rate 0":               func(r *Report) { r.Rate = 0 },
		"rate above full":      func(r *Report) { r.Rate = FullRate + 1 },
	}
	for name, mutate := range mutations {
		bad := fullReport(1)
		mutate(&bad)
		data := marshal(t, Batch{Schema: Schema, Reports: []Report{fullReport(0), bad}})
		if _, err := ParseBatch(data); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: ParseBatch = %v, want ErrInvalid", name, err)
		}
	}
	good := string(marshal(t, Batch{Schema: Schema, Reports: []Report{fullReport(0)}}))
	many := make([]Report, MaxReportsPerBatch+1)
	for i := range many {
		many[i] = fullReport(i)
	}
	for name, data := range map[string]string{
		"empty":                ``,
		"not an object":        `[]`,
		"truncated":            good[:len(good)-3],
		"trailing data":        good + `{}`,
		"unknown field":        strings.Replace(good, `"schema":1`, `"schema":1,"device_id":"abc"`, 1),
		"unknown report field": strings.Replace(good, `"rate":1000`, `"rate":1000,"hostname":"h"`, 1),
		"schema 2":             strings.Replace(good, `"schema":1`, `"schema":2`, 1),
		"no schema":            strings.Replace(good, `"schema":1,`, ``, 1),
		"no reports":           `{"schema":1,"reports":[]}`,
		"null reports":         `{"schema":1,"reports":null}`,
		"too many":             string(marshal(t, Batch{Schema: Schema, Reports: many})),
		"too deep":             `{"schema":1,"reports":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
		"too large":            good[:len(good)-1] + strings.Repeat(" ", MaxBatchBytes) + `}`,
		"string as count":      strings.Replace(good, `"bytes":1234`, `"bytes":"1234"`, 1),
		"float rate":           strings.Replace(good, `"rate":1000`, `"rate":1000.5`, 1),
	} {
		if _, err := ParseBatch([]byte(data)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: ParseBatch = %v, want ErrInvalid", name, err)
		}
	}
}

// TestParseBatchLimits: exactly MaxReportsPerBatch reports is accepted.
func TestParseBatchLimits(t *testing.T) {
	reports := make([]Report, MaxReportsPerBatch)
	for i := range reports {
		reports[i] = Report{ID: fmt.Sprintf("%032x", i), Kind: KindHealthy, Hour: "2026-12-01T10:00:00Z",
			ModelID: "m", Version: "1.0.0", CohortPercent: -1, Rate: FullRate}
	}
	data := marshal(t, Batch{Schema: Schema, Reports: reports})
	if len(data) > MaxBatchBytes {
		t.Fatalf("a full batch of minimal reports is %d bytes, over MaxBatchBytes", len(data))
	}
	if _, err := ParseBatch(data); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseBatch: ParseBatch never panics, and whatever it accepts
// follows every rule and survives a round trip unchanged. The seed
// corpus is testdata/fuzz/FuzzParseBatch.
func FuzzParseBatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBatch(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if len(data) > MaxBatchBytes || b.Schema != Schema || len(b.Reports) < 1 || len(b.Reports) > MaxReportsPerBatch {
			t.Fatalf("accepted a batch out of bounds: %d bytes, schema %d, %d reports", len(data), b.Schema, len(b.Reports))
		}
		for i := range b.Reports {
			if err := b.Reports[i].Check(); err != nil {
				t.Fatalf("accepted report %d fails Check: %v", i, err)
			}
			if w := b.Reports[i].Weight(); w < 1 || w > FullRate {
				t.Fatalf("weight %v", w)
			}
		}
		var again Batch
		if err := json.Unmarshal(marshal(t, b), &again); err != nil || !reflect.DeepEqual(again, *b) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, again, *b)
		}
	})
}
