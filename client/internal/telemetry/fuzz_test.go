package telemetry

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"testing"
)

// FuzzParseState: the outbox file is read from disk, so ParseState gets
// any bytes: it never panics, fails only with ErrOutbox, and what it
// accepts is within the bounds (reports, each valid and unique) and
// parses again after being written back. Seeds: testdata/fuzz.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"format":"edgetuf-outbox-v1","reports":[]}`))
	f.Add([]byte(`{"format":"edgetuf-outbox-v1","reports":[{"id":"0123456789abcdef0123456789abcdef","kind":"healthy","hour":"2026-12-05T10:00:00Z","model_id":"det","version":"1.0.0","cohort_percent":-1,"rate":10000}],"dropped":{"model_id":"det","version":"1.0.0","count":3}}`))
	const maxReports, maxBytes = 8, 64 << 10
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseState(data, maxReports, maxBytes)
		if err != nil {
			if !errors.Is(err, ErrOutbox) {
				t.Fatalf("error without ErrOutbox: %v", err)
			}
			return
		}
		if len(s.Reports) > maxReports || len(s.Active) > maxActive {
			t.Fatalf("accepted %d reports, %d active", len(s.Reports), len(s.Active))
		}
		for i := range s.Reports {
			if err := s.Reports[i].Check(); err != nil {
				t.Fatalf("accepted an invalid report: %v", err)
			}
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseState(out, maxReports, maxBytes+int64(len(out))); err != nil {
			t.Fatalf("written back, refused: %v\n%s", err, out)
		}
	})
}

// FuzzParseJournal: the journal is read from disk, so parseJournal gets
// any bytes: it never panics, every report it returns is valid, and
// writing those reports back gives a journal that reads the same, with
// nothing skipped. Seeds: testdata/fuzz/FuzzParseJournal.
func FuzzParseJournal(f *testing.F) {
	rep := `{"id":"0123456789abcdef0123456789abcdef","kind":"latency","hour":"2026-12-05T10:00:00Z","model_id":"det","version":"1.0.0","latency_ms":12,"cohort_percent":-1,"rate":10000}`
	f.Add([]byte(fmt.Sprintf("%08x %s\n", crc32.Checksum([]byte(rep), castagnoli), rep)))
	f.Add([]byte(fmt.Sprintf("%08x %s\n%08x %s", crc32.Checksum([]byte(rep), castagnoli), rep, 0, `{"torn`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		reports, _ := parseJournal(data)
		for i := range reports {
			if err := reports[i].Check(); err != nil {
				t.Fatalf("returned an invalid report: %v", err)
			}
		}
		out, err := journalLines(reports)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseJournal(out)
		if err != nil || !reflect.DeepEqual(again, reports) {
			t.Fatalf("written back: %v\n%+v\n%+v", err, again, reports)
		}
	})
}
