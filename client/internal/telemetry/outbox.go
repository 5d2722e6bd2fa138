package telemetry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/internal/writerlock"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
	"golang.org/x/sys/unix"
)

// The outbox lives in the state directory:
//
//	telemetry/outbox.json   the reports waiting for upload (State), replaced atomically
//	telemetry/journal       reports recorded since, appended (journal.go)
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
	// the sampling document (at most telemetry.MaxSamplingBytes, about
	// 22 KiB in base64), the
	// active versions' cohorts (at most maxActive entries) and the dropped
	// count.
	reserveBytes = 40 << 10
	// maxActive bounds State.Active.
	maxActive = 64
)

// lockWait is how long a process waits for another one to finish with the
// outbox (it holds the lock for one read and one write only); an upload
// waits no longer than its own timeout. A variable for tests.
var lockWait = 5 * time.Second

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
	// SamplingDoc is the last sampling configuration verified through TUF,
	// verbatim, and SamplingSHA256 the SHA-256 of the signed target ("":
	// none), so that an unchanged configuration is not downloaded again.
	// Sampling is parsed from SamplingDoc by ParseState, which first
	// checks that the document hashes to SamplingSHA256: an edited copy
	// is never used, and LoadSampling compares SamplingSHA256 with the
	// signed hash at every refresh. A hash without a document: the signed
	// configuration is invalid, and everything is kept.
	Sampling       *telemetry.Sampling `json:"-"`
	SamplingDoc    []byte              `json:"sampling_doc,omitempty"`
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
	if err := jsonlimit.UnmarshalExact(data, &s, maxBytes); err != nil {
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
	if s.SamplingSHA256 != "" {
		if b, err := hex.DecodeString(s.SamplingSHA256); err != nil || len(b) != 32 || hex.EncodeToString(b) != s.SamplingSHA256 {
			return bad("sampling_sha256 is not a lowercase SHA-256")
		}
	}
	if s.SamplingDoc != nil {
		if sum := sha256.Sum256(s.SamplingDoc); hex.EncodeToString(sum[:]) != s.SamplingSHA256 {
			return bad("sampling_doc does not match sampling_sha256")
		}
		sampling, err := telemetry.ParseSampling(s.SamplingDoc)
		if err != nil {
			return bad("%v", err)
		}
		s.Sampling = sampling
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
	// journalMax bounds the journal; outbox.json keeps its reports within
	// maxBytes-reserveBytes-journalMax, so that both files together stay
	// within maxBytes.
	journalMax int64

	// header is the last outbox.json parsed and headerKey the identity
	// (inode, size, modification time) of the file it came from: a
	// recording process reads the sampling configuration and cohorts from
	// it without parsing the file again while the file stays the same.
	header    *State
	headerKey string
	// mu serialises this process's users (the background upload, app
	// signals) before the file lock; it guards header.
	mu sync.Mutex
}

func newOutbox(stateDir string, maxReports int, maxBytes int64) *outbox {
	return &outbox{dir: filepath.Join(stateDir, Dir), sfs: safefs.New(stateDir), maxReports: maxReports, maxBytes: maxBytes,
		journalMax: maxBytes / 8}
}

// lock creates the telemetry directory and takes the outbox lock,
// waiting at most lockWait.
func (o *outbox) lock() (unlock func(), err error) { return o.lockBy(time.Now().Add(lockWait)) }

// lockBy is lock waiting until deadline.
func (o *outbox) lockBy(deadline time.Time) (unlock func(), err error) {
	o.mu.Lock()
	if err := o.sfs.MkdirAll(o.dir, 0o700); err != nil {
		o.mu.Unlock()
		return nil, err
	}
	f, err := o.sfs.OpenFile(filepath.Join(o.dir, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		o.mu.Unlock()
		return nil, err
	}
	taken, err := writerlock.Wait(f, deadline)
	if err != nil || !taken {
		f.Close()
		o.mu.Unlock()
		if err == nil {
			err = fmt.Errorf("another process holds %s", filepath.Join(o.dir, LockFile))
		}
		return nil, err
	}
	return func() { writerlock.Release(f); f.Close(); o.mu.Unlock() }, nil
}

// change runs fn on the outbox's state (outbox.json with the journal
// merged in) under the outbox lock and writes the result if fn returns
// true or the journal had reports: written to a temporary file, fsynced,
// renamed over outbox.json, the directory fsynced (atomicfs), so that a
// kill at any point leaves either the old or the new file; then the
// journal is removed. A file that does not parse is replaced by an empty
// outbox (the error is returned with the result, for the log): losing
// queued reports is better than never sending any again.
func (o *outbox) change(fn func(*State) bool) (damaged error, err error) {
	return o.changeBy(time.Now().Add(lockWait), fn)
}

// changeBy is change waiting for the lock until deadline.
func (o *outbox) changeBy(deadline time.Time, fn func(*State) bool) (damaged error, err error) {
	unlock, err := o.lockBy(deadline)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s, journal, damaged := o.load()
	if !fn(s) && !journal {
		return damaged, nil
	}
	return damaged, o.compact(s)
}

// record is change for adding reports, made cheap: fn (which may change
// only s.Active) returns the reports to add and whether it changed s.
// When it did not, the reports are appended to the journal, read against
// the cached outbox.json; otherwise, or when the journal is full, the
// outbox is rewritten with them (change).
func (o *outbox) record(fn func(*State) ([]telemetry.Report, bool)) (damaged error, err error) {
	unlock, err := o.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var kept []telemetry.Report
	var active map[string]Active
	fromHeader := false
	hdr, damaged := o.readHeader()
	if damaged == nil {
		c := State{Format: hdr.Format, Sampling: hdr.Sampling, SamplingDoc: hdr.SamplingDoc, SamplingSHA256: hdr.SamplingSHA256, Active: maps.Clone(hdr.Active)}
		changed := false
		if kept, changed = fn(&c); !changed {
			if len(kept) == 0 {
				return nil, nil
			}
			if ok, err := o.appendJournal(kept); ok && err == nil {
				return nil, nil
			}
			// A full journal, or one that cannot be appended to (it is
			// then read as damaged and replaced): rewrite the outbox.
		}
		active, fromHeader = c.Active, true
	}
	s, _, damaged := o.load()
	if fromHeader {
		s.Active = active // the change fn made, to the same outbox.json
	} else {
		kept, _ = fn(s)
	}
	o.add(s, kept...)
	return damaged, o.compact(s)
}

// samplingSHA256 is the kept sampling configuration's signed SHA-256 ("":
// none, or outbox.json cannot be read), from the cached outbox.json:
// no rewrite, and no parse while the file is the one last read.
func (o *outbox) samplingSHA256() string {
	unlock, err := o.lock()
	if err != nil {
		return ""
	}
	defer unlock()
	hdr, err := o.readHeader()
	if err != nil {
		return ""
	}
	return hdr.SamplingSHA256
}

// readHeader is outbox.json parsed, from the cache while the file is the
// same one; the result must not be changed.
func (o *outbox) readHeader() (*State, error) {
	key, err := o.fileKey()
	if err != nil {
		return nil, err
	}
	if o.header != nil && key == o.headerKey {
		return o.header, nil
	}
	s, damaged := o.read()
	if damaged != nil {
		return nil, damaged
	}
	o.header, o.headerKey = s, key
	return s, nil
}

// fileKey identifies the file outbox.json is now: device, inode, size,
// modification and change times ("none" when there is none). A rewrite renames a
// new file into place, so it changes the key.
func (o *outbox) fileKey() (string, error) {
	fi, err := o.sfs.Lstat(filepath.Join(o.dir, OutboxFile))
	if errors.Is(err, os.ErrNotExist) && !safefs.IsUnsafe(err) {
		return "none", nil
	}
	if err != nil {
		return "", err
	}
	st, _ := fi.Sys().(*unix.Stat_t)
	if st == nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%w: %s is not a regular file", ErrOutbox, OutboxFile)
	}
	return fmt.Sprint(st.Dev, st.Ino, st.Size, st.Mtim.Nano(), st.Ctim.Nano()), nil
}

// load is outbox.json with the journal's reports merged in (those not
// already in it, by ID), within the bounds; damaged describes what was
// skipped or replaced. outbox.json is read afresh, never from the cache:
// a file identity can repeat (an inode reused within the timestamp
// granularity of the file system), and a stale cache here would lose
// reports, where in readHeader it costs at most a stale sampling rate or
// cohort until the next upload.
func (o *outbox) load() (s *State, journal bool, damaged error) {
	s, damaged = o.read()
	reports, journal, jerr := o.readJournal()
	if jerr != nil {
		damaged = errors.Join(damaged, jerr)
	}
	seen := make(map[string]bool, len(s.Reports))
	for i := range s.Reports {
		seen[s.Reports[i].ID] = true
	}
	var added []telemetry.Report
	for _, rep := range reports {
		if !seen[rep.ID] {
			seen[rep.ID] = true
			added = append(added, rep)
		}
	}
	o.add(s, added...)
	return s, journal, damaged
}

// compact writes s as outbox.json, then removes the journal, whose
// reports s holds.
func (o *outbox) compact(s *State) error {
	o.header = nil
	if err := o.write(s); err != nil {
		return err
	}
	if key, err := o.fileKey(); err == nil {
		o.header, o.headerKey = s, key // read only by record; the caller no longer changes s
	}
	err := o.sfs.Remove(filepath.Join(o.dir, JournalFile))
	if errors.Is(err, os.ErrNotExist) && !safefs.IsUnsafe(err) {
		return nil
	}
	return err
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
	if int64(len(data)) > o.maxBytes-o.journalMax { // cannot happen: add keeps the reports within the budget
		return fmt.Errorf("outbox of %d bytes exceeds %d", len(data), o.maxBytes-o.journalMax)
	}
	crashpoint.Hit("telemetry.outbox.write")
	return atomicfs.WriteFile(o.sfs.Afero(), filepath.Join(o.dir, OutboxFile), data, 0o600)
}

// add appends reports to s, then drops the oldest reports until s holds
// at most maxReports reports within maxBytes-reserveBytes-journalMax bytes, counting
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
	for n < len(s.Reports) && (len(s.Reports)-n > o.maxReports || size > o.maxBytes-reserveBytes-o.journalMax) {
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
