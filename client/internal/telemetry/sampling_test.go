package telemetry

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// fakeSource lists doc as the top-level sampling target and counts
// downloads.
type fakeSource struct {
	doc     []byte
	fetched int
}

func (f *fakeSource) TopTarget(path string) *metadata.TargetFiles {
	sum := sha256.Sum256(f.doc)
	return &metadata.TargetFiles{Path: path, Length: int64(len(f.doc)), Hashes: metadata.Hashes{"sha256": sum[:]}}
}

func (f *fakeSource) FetchTarget(*metadata.TargetFiles, int64) ([]byte, error) {
	f.fetched++
	return f.doc, nil
}

// TestSamplingCacheNotTrusted: the kept copy of the signed sampling
// configuration is used only while it hashes to the signed SHA-256. An
// unchanged one is not downloaded again; one edited in outbox.json (here
// to send fewer failure reports) is never used: the outbox is replaced,
// the signed document downloaded again, and its rates apply.
func TestSamplingCacheNotTrusted(t *testing.T) {
	srv := refusing(t, http.StatusServiceUnavailable)
	r, dir := testRecorder(t, srv.URL, Options{})
	src := &fakeSource{doc: []byte(`{"format":"edgetuf-telemetry-v1","default":10000,"rates":{"success":500}}`)}
	r.LoadSampling(src)
	r.LoadSampling(src)
	if src.fetched != 1 {
		t.Fatalf("fetched %d times, want 1 (cached by hash)", src.fetched)
	}
	if s, _ := readState(t, dir, r.opts); s.Sampling.RateOf(telemetry.KindHealthy) != 500 {
		t.Fatalf("signed rates not applied: %+v", s.Sampling)
	}
	// Edit the kept copy: failures at 0.01%, hash left as signed.
	name := filepath.Join(dir, Dir, OutboxFile)
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseState(data, DefaultMaxReports, DefaultMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	s.SamplingDoc = []byte(`{"format":"edgetuf-telemetry-v1","default":1,"rates":{"success":500}}`)
	edited, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	if rate := rateNow(r, telemetry.KindFailed); rate != telemetry.FullRate {
		t.Fatalf("edited copy used: failures at rate %d", rate)
	}
	r.LoadSampling(src)
	if src.fetched != 2 {
		t.Fatalf("fetched %d times, want 2 (the edited copy refused)", src.fetched)
	}
	if rate := rateNow(r, telemetry.KindHealthy); rate != 500 {
		t.Fatalf("after the new download, healthy at rate %d, want 500", rate)
	}
}

// rateNow is the rate the recorder would sample kind at now.
func rateNow(r *Recorder, kind string) int {
	s, _, _ := r.box.load()
	return s.Sampling.RateOf(kind)
}

// TestLoadSamplingUnchangedWritesNothing: LoadSampling runs after every
// refresh, before activation; with the configuration unchanged it
// neither rewrites outbox.json nor merges the journal.
func TestLoadSamplingUnchangedWritesNothing(t *testing.T) {
	srv := refusing(t, http.StatusServiceUnavailable)
	r, dir := testRecorder(t, srv.URL, Options{})
	src := &fakeSource{doc: []byte(`{"format":"edgetuf-telemetry-v1","default":10000}`)}
	r.LoadSampling(src)
	latencies(t, r, 2)
	before, err := os.ReadFile(filepath.Join(dir, Dir, OutboxFile))
	if err != nil {
		t.Fatal(err)
	}
	r.LoadSampling(src)
	after, _ := os.ReadFile(filepath.Join(dir, Dir, OutboxFile))
	if string(before) != string(after) || src.fetched != 1 {
		t.Fatalf("outbox.json rewritten (%v) or the configuration fetched again (%d)", string(before) != string(after), src.fetched)
	}
	if _, err := os.Lstat(journalPath(dir)); err != nil {
		t.Fatalf("journal merged: %v", err)
	}
}

// TestLargestSamplingFitsSmallestOutbox: the largest sampling document
// allowed, kept verbatim, and a flood of reports fit the smallest outbox
// (the reserve covers the document): every write succeeds and the bound
// holds.
func TestLargestSamplingFitsSmallestOutbox(t *testing.T) {
	srv := refusing(t, http.StatusServiceUnavailable)
	r, dir := testRecorder(t, srv.URL, Options{MaxBytes: minMaxBytes})
	doc := []byte(`{"format":"edgetuf-telemetry-v1","default":10000}`)
	doc = append(doc, bytes.Repeat([]byte(" "), telemetry.MaxSamplingBytes-len(doc))...)
	src := &fakeSource{doc: doc}
	r.LoadSampling(src)
	if s, _ := readState(t, dir, r.opts); len(s.SamplingDoc) != telemetry.MaxSamplingBytes {
		t.Fatalf("sampling document of %d bytes kept", len(s.SamplingDoc))
	}
	flood(r, 100)
	s, size := readState(t, dir, r.opts)
	if size > minMaxBytes || s.Sampling == nil || len(s.Reports) == 0 {
		t.Fatalf("outbox of %d bytes, sampling %v, %d reports", size, s.Sampling, len(s.Reports))
	}
}
