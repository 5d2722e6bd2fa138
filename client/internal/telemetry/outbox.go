package telemetry

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/internal/writerlock"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
)

// The outbox lives in the state directory:
//
//	telemetry/outbox.json   the reports waiting for upload (State), replaced atomically
//	telemetry/lock          held while a process reads, changes and writes outbox.json
const (
	Dir        = "telemetry"
	OutboxFile = "outbox.json"
	LockFile   = "lock"
	// OutboxFormat marks an outbox file.
	OutboxFormat = "edgetuf-outbox-v1"
)

// Default bounds of the outbox (Options.MaxReports, MaxBytes).
const (
	DefaultMaxReports = 2000
	DefaultMaxBytes   = 1 << 20
	// minMaxBytes is the smallest MaxBytes accepted: the reserve below plus
	// room for reports.
	minMaxBytes = 64 << 10
	// reserveBytes is the part of MaxBytes kept for what is not a report:
	// the sampling configuration (at most telemetry.MaxSamplingBytes), the
	// active versions' cohorts (at most maxActive entries) and the dropped
	// count.
	reserveBytes = 40 << 10
	// maxActive bounds State.Active.
	maxActive = 64
	// lockWait is how long a process waits for another one to finish with
	// the outbox (it holds the lock for one read and one write only).
	lockWait = 5 * time.Second
)

// State is the content of outbox.json. It is read from disk, so it is
// parsed as strictly as anything from the network (ParseState): a file is
// never trusted because it exists locally.
type State struct {
	Format string `json:"format"`
	// Reports wait for upload, oldest first. Each has its ID from the
	// moment it was recorded, so a batch sent again after a lost answer is
	// dropped as a duplicate by the collector.
	Reports []telemetry.Report `json:"reports"`
	// Dropped counts the reports dropped, oldest first, to keep the outbox
	// within its bounds, since the last KindDropped report was made; it
	// names the model and version of the last one dropped.
	Dropped *Dropped `json:"dropped,omitempty"`
	// Sampling is the last sampling configuration verified through TUF
	// (nil: none, or an invalid one: everything is kept) and SamplingSHA256
	// the SHA-256 of the signed target it came from ("" when absent), so
	// that an unchanged configuration is not downloaded again.
	Sampling       *telemetry.Sampling `json:"sampling,omitempty"`
	SamplingSHA256 string              `json:"sampling_sha256,omitempty"`
	// Active is, per model, the version active after the last update run
	// and its cohort bucket: what app signals about that version carry.
	Active map[string]Active `json:"active,omitempty"`
}

// Dropped is the count of reports dropped from a full outbox.
type Dropped struct {
	ModelID string `json:"model_id"`
	Version string `json:"version"`
	Count   int64  `json:"count"`
}

// Active is the active version of a model and its cohort percent.
type Active struct {
	Version       string `json:"version"`
	CohortPercent int    `json:"cohort_percent"`
}

// ErrOutbox: outbox.json does not parse or breaks a rule.
var ErrOutbox = errors.New("invalid telemetry outbox")

// ParseState parses an outbox file: at most maxBytes, strict JSON, this
// format, at most maxReports reports each passing telemetry.Report.Check,
// a valid sampling configuration, and bounded, valid cohorts.
func ParseState(data []byte, maxReports int, maxBytes int64) (*State, error) {
	var s State
	if err := jsonlimit.UnmarshalStrict(data, &s, maxBytes); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutbox, err)
	}
	bad := func(format string, a ...any) (*State, error) {
		return nil, fmt.Errorf("%w: %s", ErrOutbox, fmt.Sprintf(format, a...))
	}
	if s.Format != OutboxFormat {
		return bad("format %q, want %q", s.Format, OutboxFormat)
	}
	if len(s.Reports) > maxReports {
		return bad("%d reports, at most %d", len(s.Reports), maxReports)
	}
	seen := make(map[string]bool, len(s.Reports))
	for i := range s.Reports {
		if err := s.Reports[i].Check(); err != nil {
			return bad("report %d: %v", i, err)
		}
		if seen[s.Reports[i].ID] {
			return bad("report %d: duplicate id", i)
		}
		seen[s.Reports[i].ID] = true
	}
	if d := s.Dropped; d != nil {
		if err := checkModelVersion(d.ModelID, d.Version); err != nil || d.Count < 1 || d.Count > 1<<31 {
			return bad("dropped: model, version or count out of range")
		}
	}
	if s.Sampling != nil {
		if err := s.Sampling.Check(); err != nil {
			return bad("%v", err)
		}
	}
	if s.SamplingSHA256 != "" {
		if b, err := hex.DecodeString(s.SamplingSHA256); err != nil || len(b) != 32 || hex.EncodeToString(b) != s.SamplingSHA256 {
			return bad("sampling_sha256 is not a lowercase SHA-256")
		}
	}
	if len(s.Active) > maxActive {
		return bad("%d active models, at most %d", len(s.Active), maxActive)
	}
	for id, a := range s.Active {
		if err := checkModelVersion(id, a.Version); err != nil || a.CohortPercent < -1 || a.CohortPercent > 99 {
			return bad("active %q: model, version or cohort out of range", id)
		}
	}
	return &s, nil
}

func checkModelVersion(modelID, version string) error {
	if err := targets.CheckModelID(modelID); err != nil {
		return err
	}
	_, err := targets.ParseVersion(version)
	return err
}

// outbox is the outbox of one state directory, with its bounds.
type outbox struct {
	dir        string // the telemetry directory
	sfs        *safefs.FS
	maxReports int
	maxBytes   int64
}

func newOutbox(stateDir string, maxReports int, maxBytes int64) *outbox {
	return &outbox{dir: filepath.Join(stateDir, Dir), sfs: safefs.New(stateDir), maxReports: maxReports, maxBytes: maxBytes}
}

// change runs fn on the outbox's state under the outbox lock and writes
// the result if fn returns true: written to a temporary file, fsynced,
// renamed over outbox.json, the directory fsynced (atomicfs), so that a
// kill at any point leaves either the old or the new file. A file that
// does not parse is replaced by an empty outbox (the error is returned
// with the result, for the log): losing queued reports is better than
// never sending any again.
func (o *outbox) change(fn func(*State) bool) (damaged error, err error) {
	if err := o.sfs.MkdirAll(o.dir, 0o700); err != nil {
		return nil, err
	}
	f, err := o.sfs.OpenFile(filepath.Join(o.dir, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	taken, err := writerlock.Wait(f, time.Now().Add(lockWait))
	if err != nil {
		return nil, err
	}
	if !taken {
		return nil, fmt.Errorf("another process holds %s", filepath.Join(o.dir, LockFile))
	}
	defer writerlock.Release(f)
	s, damaged := o.read()
	if !fn(s) {
		return damaged, nil
	}
	return damaged, o.write(s)
}

// read reads outbox.json: a missing file is an empty outbox, and so is
// one that cannot be read or parsed (returned as damaged).
func (o *outbox) read() (s *State, damaged error) {
	data, err := o.sfs.ReadFile(filepath.Join(o.dir, OutboxFile), o.maxBytes)
	if errors.Is(err, os.ErrNotExist) && !safefs.IsUnsafe(err) {
		return &State{Format: OutboxFormat}, nil
	}
	if err == nil {
		if s, err = ParseState(data, o.maxReports, o.maxBytes); err == nil {
			return s, nil
		}
	}
	return &State{Format: OutboxFormat}, fmt.Errorf("%s: %w", filepath.Join(o.dir, OutboxFile), err)
}

func (o *outbox) write(s *State) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if int64(len(data)) > o.maxBytes { // cannot happen: add keeps the reports within maxBytes-reserveBytes
		return fmt.Errorf("outbox of %d bytes exceeds %d", len(data), o.maxBytes)
	}
	crashpoint.Hit("telemetry.outbox.write")
	return atomicfs.WriteFile(o.sfs.Afero(), filepath.Join(o.dir, OutboxFile), data, 0o600)
}

// add appends reports to s, then drops the oldest reports until s holds
// at most maxReports reports within maxBytes-reserveBytes bytes, counting
// them in s.Dropped (a dropped KindDropped report adds its own count).
func (o *outbox) add(s *State, reports ...telemetry.Report) {
	s.Reports = append(s.Reports, reports...)
	size := int64(0)
	sizes := make([]int64, len(s.Reports))
	for i := range s.Reports {
		sizes[i] = reportSize(&s.Reports[i])
		size += sizes[i]
	}
	n := 0
	for n < len(s.Reports) && (len(s.Reports)-n > o.maxReports || size > o.maxBytes-reserveBytes) {
		s.countDropped(&s.Reports[n])
		size -= sizes[n]
		n++
	}
	s.Reports = append([]telemetry.Report(nil), s.Reports[n:]...)
}

// countDropped counts r in s.Dropped: one report, or for a KindDropped
// report the reports it counts.
func (s *State) countDropped(r *telemetry.Report) {
	count := int64(1)
	if r.Kind == telemetry.KindDropped {
		count = r.Count
	}
	if s.Dropped == nil {
		s.Dropped = &Dropped{}
	}
	s.Dropped.ModelID, s.Dropped.Version = r.ModelID, r.Version
	s.Dropped.Count = min(s.Dropped.Count+count, 1<<31)
}

// reportSize is the bytes a report takes in the outbox and in a batch
// (its JSON and a separating comma).
func reportSize(r *telemetry.Report) int64 {
	data, _ := json.Marshal(r)
	return int64(len(data)) + 1
}
