package telemetry

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/telemetry"
)

// latencies records n latency reports, one record each (as an app
// reporting latencies does), and returns their IDs.
func latencies(t testing.TB, r *Recorder, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		rep := r.base(telemetry.KindLatency, "det", "1.0.0")
		ids = append(ids, rep.ID)
		if err := r.record([]telemetry.Report{rep}, func(*State, []telemetry.Report) bool { return false }); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func idsOf(s *State) map[string]bool {
	in := map[string]bool{}
	for _, rep := range s.Reports {
		in[rep.ID] = true
	}
	return in
}

func journalPath(dir string) string { return filepath.Join(dir, Dir, JournalFile) }

// TestRecordAppendsToJournal: recording appends one line to the journal
// and leaves outbox.json as it was; the upload merges the journal into
// outbox.json and removes it.
func TestRecordAppendsToJournal(t *testing.T) {
	srv := refusing(t, http.StatusServiceUnavailable)
	r, dir := testRecorder(t, srv.URL, Options{})
	latencies(t, r, 1)
	r.Upload(context.Background()) // refused: the journal is merged, the report kept
	before, err := os.ReadFile(filepath.Join(dir, Dir, OutboxFile))
	if err != nil {
		t.Fatal(err)
	}
	ids := latencies(t, r, 3)
	after, _ := os.ReadFile(filepath.Join(dir, Dir, OutboxFile))
	if !bytes.Equal(before, after) {
		t.Fatal("recording rewrote outbox.json")
	}
	data, err := os.ReadFile(journalPath(dir))
	if err != nil || bytes.Count(data, []byte("\n")) != 3 {
		t.Fatalf("journal: %v\n%s", err, data)
	}
	s, _ := readState(t, dir, r.opts)
	for _, id := range ids {
		if !idsOf(s)[id] {
			t.Fatalf("report %s missing from the outbox", id)
		}
	}
	r.Upload(context.Background())
	if _, err := os.Lstat(journalPath(dir)); !os.IsNotExist(err) {
		t.Fatalf("journal left after an upload: %v", err)
	}
	if s2, _ := readState(t, dir, r.opts); len(s2.Reports) != 4 {
		t.Fatalf("%d reports after compaction, want 4", len(s2.Reports))
	}
}

// TestJournalDamaged: a torn last line (a kill during an append), a line
// whose checksum fails, one that is not a valid report, and one in
// another key case are skipped; every sound line is kept, and recording
// after a torn line does not glue onto it.
func TestJournalDamaged(t *testing.T) {
	srv := refusing(t, http.StatusServiceUnavailable)
	r, dir := testRecorder(t, srv.URL, Options{})
	good := latencies(t, r, 2)
	data, _ := os.ReadFile(journalPath(dir))
	lines := strings.SplitAfter(string(data), "\n")
	flipped := []byte(lines[1])
	flipped[20] ^= 1 // inside the JSON: the checksum no longer matches
	bad := r.base(telemetry.KindLatency, "det", "1.0.0")
	bad.Rate = 0 // breaks Report.Check
	badLine, _ := journalLines([]telemetry.Report{bad})
	caseReport := r.base(telemetry.KindLatency, "det", "1.0.0")
	caseLine, _ := journalLines([]telemetry.Report{caseReport})
	caseJSON := bytes.Replace(caseLine[9:len(caseLine)-1], []byte(`"kind"`), []byte(`"Kind"`), 1)
	caseLine = fmt.Appendf(nil, "%08x %s\n", crc32.Checksum(caseJSON, castagnoli), caseJSON) // a sound checksum
	content := lines[0] + string(flipped) + string(badLine) + string(caseLine) + `{"torn":`
	if err := os.WriteFile(journalPath(dir), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	after := latencies(t, r, 1)
	s, _, damaged := r.box.load()
	if damaged == nil {
		t.Fatal("damaged lines not reported")
	}
	in := idsOf(s)
	if !in[good[0]] || in[good[1]] || !in[after[0]] || in[bad.ID] || in[caseReport.ID] || len(s.Reports) != 2 {
		t.Fatalf("kept %v; want %s and %s only", in, good[0], after[0])
	}
}

// TestJournalNotTrusted: a journal that is a link is neither followed
// nor written through, and one larger than its bound is not read; both
// are replaced and recording goes on.
func TestJournalNotTrusted(t *testing.T) {
	srv := refusing(t, http.StatusServiceUnavailable)
	for name, plant := range map[string]func(t *testing.T, path string){
		"link": func(t *testing.T, p string) {
			target := filepath.Join(t.TempDir(), "elsewhere")
			if err := os.WriteFile(target, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if data, _ := os.ReadFile(target); len(data) != 0 {
					t.Errorf("written through the link: %q", data)
				}
			})
		},
		"oversized": func(t *testing.T, p string) {
			if err := os.WriteFile(p, bytes.Repeat([]byte("x"), DefaultMaxBytes), 0o600); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			r, dir := testRecorder(t, srv.URL, Options{})
			os.MkdirAll(filepath.Join(dir, Dir), 0o700)
			plant(t, journalPath(dir))
			ids := latencies(t, r, 2)
			s, _ := readState(t, dir, r.opts)
			if in := idsOf(s); len(s.Reports) != 2 || !in[ids[0]] || !in[ids[1]] {
				t.Fatalf("outbox %v, want %v", in, ids)
			}
			if fi, err := os.Lstat(journalPath(dir)); err == nil && !fi.Mode().IsRegular() {
				t.Fatal("the journal is still a link")
			}
		})
	}
}

// TestJournalKilledBeforeRemoval: a kill after the outbox was rewritten
// with the journal's reports but before the journal was removed leaves
// them in both files; they are read, and sent, once.
func TestJournalKilledBeforeRemoval(t *testing.T) {
	srv := refusing(t, http.StatusServiceUnavailable)
	r, dir := testRecorder(t, srv.URL, Options{})
	latencies(t, r, 3)
	journal, err := os.ReadFile(journalPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	r.Upload(context.Background()) // compacts, then the collector refuses
	if err := os.WriteFile(journalPath(dir), journal, 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := readState(t, dir, r.opts)
	if len(s.Reports) != 3 {
		t.Fatalf("%d reports, want 3 (each once)", len(s.Reports))
	}
}
