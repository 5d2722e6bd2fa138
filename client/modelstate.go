package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"io"
	"os"
	"slices"
	"sort"

	"github.com/edgetuf/edgetuf/targets"
)

// modelState is the content of models/<model>/state.json: what the device
// remembers of a model besides its active version. It stays bounded
// whatever the repository publishes: at most maxBadVersions marks, and a
// last result trimmed by storedResult, so the file stays far below
// maxStateFile.
type modelState struct {
	// BadVersions are the versions that failed their health check here
	// or that an operator rolled back from: never installed again.
	BadVersions []string `json:"bad_versions"`
	// BadThrough, when set, marks as bad every version up to and
	// including it, besides those listed. It is how marks stay bounded
	// without forgetting one: when there are more than maxBadVersions
	// marks, the lowest are folded into it, and when the marks were lost
	// (a damaged state.json) it covers everything that was published. It
	// may refuse a version that was never tried (fail closed), never
	// retry one that failed. Before folding, the marks below the
	// anti-rollback floor are dropped (such versions are never candidates
	// anyway), and a BadThrough below the floor always is.
	BadThrough string `json:"bad_through,omitempty"`
	// MarksLost: a damaged state.json was replaced and its marks could
	// not be read. Until the next update sets BadThrough to the newest
	// version then published, every version counts as bad.
	MarksLost bool `json:"marks_lost,omitempty"`
	// LastResult is informational: the last update or rollback.
	LastResult *Result `json:"last_result,omitempty"`
}

const (
	// maxBadVersions bounds the versions listed as bad (about 34 KiB).
	maxBadVersions = 256
	// maxStoredSkipped and maxStoredFiles bound the lists of a stored
	// result; Result.SkippedTotal and FilesTotal keep the counts.
	maxStoredSkipped = 20
	maxStoredFiles   = 100
	// maxStoredText bounds each message and reason of a stored result.
	maxStoredText = 1024
	// maxSalvage bounds what is read of a damaged state.json to recover
	// its marks (a file written by an older client could be large).
	maxSalvage = 16 << 20
	// damagedSuffix names where a damaged state file is set aside.
	damagedSuffix = ".damaged"
)

func (s *modelState) isBad(v string) bool {
	return s.MarksLost || s.markedBad(v)
}

// markedBad reports whether the marks that can be read name v.
func (s *modelState) markedBad(v string) bool {
	for _, b := range s.BadVersions {
		if b == v {
			return true
		}
	}
	if s.BadThrough != "" {
		t, err1 := targets.ParseVersion(s.BadThrough)
		bv, err2 := targets.ParseVersion(v)
		if err1 != nil || (err2 == nil && bv.Compare(t) <= 0) {
			return true
		}
	}
	return false
}

// markBad marks v bad; writeModelState bounds the marks.
func (s *modelState) markBad(v string) {
	if !s.isBad(v) {
		s.BadVersions = append(s.BadVersions, v)
	}
}

// fold keeps at most maxBadVersions marks: the lowest versions go into
// BadThrough.
func (s *modelState) fold() {
	if len(s.BadVersions) <= maxBadVersions {
		return
	}
	vs := make([]targets.Version, 0, len(s.BadVersions))
	for _, b := range s.BadVersions {
		if v, err := targets.ParseVersion(b); err == nil {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Compare(vs[j]) < 0 })
	if len(vs) > maxBadVersions {
		s.raiseBadThrough(vs[len(vs)-maxBadVersions-1])
		vs = vs[len(vs)-maxBadVersions:]
	}
	s.BadVersions = s.BadVersions[:0]
	for _, v := range vs {
		s.BadVersions = append(s.BadVersions, v.String())
	}
}

func (s *modelState) raiseBadThrough(v targets.Version) {
	if t, err := targets.ParseVersion(s.BadThrough); err != nil || v.Compare(t) > 0 {
		s.BadThrough = v.String()
	}
	// Listed marks now covered are redundant.
	t, _ := targets.ParseVersion(s.BadThrough)
	kept := s.BadVersions[:0]
	for _, b := range s.BadVersions {
		if bv, err := targets.ParseVersion(b); err == nil && bv.Compare(t) > 0 {
			kept = append(kept, b)
		}
	}
	s.BadVersions = kept
}

// prune drops, when there are more marks than maxBadVersions, those
// below the floor: those versions are never candidates, so forgetting
// them cannot make one be retried (below the cap they stay, for people to
// see). A BadThrough below the floor means nothing and always goes.
func (s *modelState) prune(floor targets.Version) {
	if len(s.BadVersions) > maxBadVersions {
		kept := s.BadVersions[:0]
		for _, b := range s.BadVersions {
			if v, err := targets.ParseVersion(b); err == nil && v.Compare(floor) >= 0 {
				kept = append(kept, b)
			}
		}
		s.BadVersions = kept
	}
	if t, err := targets.ParseVersion(s.BadThrough); err == nil && t.Compare(floor) < 0 {
		s.BadThrough = ""
	}
}

// settle ends MarksLost once the versions published are known: every one
// of them up to newest counts as bad.
func (s *modelState) settle(newest targets.Version) {
	if s.MarksLost {
		s.MarksLost = false
		s.raiseBadThrough(newest)
	}
}

// readModelState reads state.json. It never fails: a file that cannot be
// read as written (cut short, garbage, larger than maxStateFile, unknown
// fields, a link or a special file) must not stop the model for ever. Its
// last result, which is informational, is dropped; its bad-version marks,
// which are not, are salvaged when the file can be parsed that far
// (reading at most maxSalvage bytes), and otherwise counted as lost
// (MarksLost: fail closed until the next update bounds them). damage, when
// set, says what was wrong, for the caller to record (recordDamage).
func readModelState(p devstate.ModelPaths) (ms *modelState, damage error) {
	var s modelState
	err := devstate.ReadJSON(p.FS, p.State(), &s)
	if errors.Is(err, os.ErrNotExist) {
		return &modelState{BadVersions: []string{}}, nil
	}
	if err == nil {
		err = s.check()
	}
	if err == nil {
		s.fold()
		return &s, nil
	}
	damage = codes.Errorf(StateInvalid, err, "%s", p.State())
	if salvaged, ok := salvageMarks(p); ok {
		salvaged.fold()
		return salvaged, damage
	}
	return &modelState{BadVersions: []string{}, MarksLost: true}, damage
}

// check refuses marks that do not parse: a hand-edited file.
func (s *modelState) check() error {
	if s.BadVersions == nil {
		s.BadVersions = []string{}
	}
	for _, b := range s.BadVersions {
		if _, err := targets.ParseVersion(b); err != nil {
			return fmt.Errorf("bad_versions: %w", err)
		}
	}
	if s.BadThrough != "" {
		if _, err := targets.ParseVersion(s.BadThrough); err != nil {
			return fmt.Errorf("bad_through: %w", err)
		}
	}
	return nil
}

// salvageMarks reads the marks of a damaged state.json, as a stream (the
// marks come first in what this package writes), ignoring the rest.
func salvageMarks(p devstate.ModelPaths) (*modelState, bool) {
	f, err := p.FS.Open(p.State())
	if err != nil {
		return nil, false
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, maxSalvage))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	s := &modelState{}
	gotMarks := false
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			break
		}
		switch key {
		case "bad_versions":
			err = dec.Decode(&s.BadVersions)
			gotMarks = err == nil
		case "bad_through":
			err = dec.Decode(&s.BadThrough)
		case "marks_lost":
			err = dec.Decode(&s.MarksLost)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			if key != "bad_versions" && gotMarks {
				break // cut short after the marks: they are whole
			}
			return nil, false
		}
	}
	if !gotMarks || s.check() != nil {
		return nil, false
	}
	return s, true
}

// loadModelState reads a model's state for a run that holds the lock. A
// damaged file is set aside as state.json.damaged (the link itself, if it
// is one), the recovered state written in its place, and the reset logged
// (event state_reset, code STATE_INVALID).
func (c *Client) loadModelState(p devstate.ModelPaths, modelID string) (*modelState, error) {
	ms, damage := readModelState(p)
	if damage == nil {
		return ms, nil
	}
	if err := c.recordDamage(p, p.State(), modelID); err != nil {
		return nil, err
	}
	if err := writeModelState(p, ms); err != nil {
		return nil, codes.Errorf(StateInvalid, err, "replacing the damaged %s", p.State())
	}
	return ms, nil
}

// recordDamage sets a damaged state file aside and logs it.
func (c *Client) recordDamage(p devstate.ModelPaths, path, modelID string) error {
	if err := p.FS.Rename(path, path+damagedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return codes.Errorf(StateInvalid, err, "setting the damaged %s aside", path)
	}
	c.event(Event{Event: EventStateReset, ModelID: modelID, Code: StateInvalid})
	return nil
}

// writeModelState stores s, bounded: the lists and texts of its last
// result are trimmed (the Result the caller holds is not changed).
func writeModelState(p devstate.ModelPaths, s *modelState) error {
	stored := *s
	// fold works in place: not on the caller's marks.
	stored.BadVersions = slices.Clone(s.BadVersions)
	stored.fold()
	stored.LastResult = storedResult(s.LastResult)
	if stored.BadVersions == nil {
		stored.BadVersions = []string{}
	}
	if err := p.FS.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	return devstate.WriteJSON(p.FS, p.State(), &stored)
}

// saveModelState prunes the marks with the model's floor, then stores s.
func (c *Client) saveModelState(p devstate.ModelPaths, modelID string, ptr *devstate.Pointer, s *modelState) error {
	if floor, ok, err := c.floor(modelID, ptr); err == nil && ok {
		s.prune(floor)
	}
	return writeModelState(p, s)
}

// storedResult is r as state.json keeps it: at most maxStoredSkipped
// skipped versions and maxStoredFiles files (with their totals), and no
// text longer than maxStoredText.
func storedResult(r *Result) *Result {
	if r == nil {
		return nil
	}
	c := *r
	c.Message = clip(c.Message)
	if len(c.Skipped) > maxStoredSkipped {
		c.SkippedTotal = len(c.Skipped)
	}
	c.Skipped = nil
	for _, sk := range r.Skipped[:min(len(r.Skipped), maxStoredSkipped)] {
		sk.Reason = clip(sk.Reason)
		c.Skipped = append(c.Skipped, sk)
	}
	if len(c.Files) > maxStoredFiles {
		c.FilesTotal = len(c.Files)
	}
	c.Files = nil
	for _, f := range r.Files[:min(len(r.Files), maxStoredFiles)] {
		f.Message = clip(f.Message)
		c.Files = append(c.Files, f)
	}
	return &c
}

func clip(s string) string {
	if len(s) <= maxStoredText {
		return s
	}
	// Cut on a rune boundary.
	n := maxStoredText - len("...")
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

// settleMarks bounds lost marks (MarksLost) once the refreshed metadata
// says what is published: every version published now counts as bad.
func (u *run) settleMarks(s *tufsession.Session) error {
	if !u.ms.MarksLost {
		return nil
	}
	cands, err := u.c.candidates(s, u.req.ModelID)
	if err != nil {
		return err
	}
	if len(cands) == 0 {
		return nil // nothing published: nothing to retry yet
	}
	newest := cands[0].version
	for _, c := range cands[1:] {
		if c.version.Compare(newest) > 0 {
			newest = c.version
		}
	}
	u.ms.settle(newest)
	if err := u.c.saveModelState(u.p, u.req.ModelID, u.ptr, u.ms); err != nil {
		return codes.Errorf(StateInvalid, err, "recording the bad-version marks")
	}
	return nil
}

// loadPointer reads the active pointer for a run that holds the lock. A
// pointer file that cannot be read (damaged, cut short, too large, naming
// another model or an invalid version, or not a regular file) must neither
// stop the model for ever nor lose the active model: it is set aside as
// active.json.damaged, the reset logged (event state_reset), and the
// version to run is recovered from what is installed: the anti-rollback
// floor (the newest version confirmed here) if it is installed and not
// marked bad, else the newest installed version not marked bad. It is put
// back on trial, so this run re-hashes its files against signed metadata
// and runs the health check before confirming it (resolveTrial). With
// nothing installed there is no active version, as before.
func (c *Client) loadPointer(p devstate.ModelPaths, modelID string, ms *modelState) (*devstate.Pointer, error) {
	ptr, err := devstate.ReadPointer(p, modelID)
	if err == nil {
		return ptr, nil
	}
	// Only the file itself is recovered: a model directory that is not a
	// real directory is refused (nothing can be written there).
	if fi, derr := p.FS.Lstat(p.Dir); derr != nil || !fi.IsDir() {
		return nil, err
	}
	if err := c.recordDamage(p, p.Pointer(), modelID); err != nil {
		return nil, err
	}
	floor, haveFloor, ferr := c.floor(modelID, nil)
	if ferr != nil {
		return nil, ferr
	}
	entries, rerr := p.FS.ReadDir(p.Dir)
	if rerr != nil {
		return nil, codes.Errorf(StateInvalid, rerr, "listing %s", p.Dir)
	}
	var best *targets.Version
	for _, e := range entries {
		v, verr := targets.ParseVersion(e.Name())
		if verr != nil || !e.IsDir() {
			continue
		}
		// The floor was confirmed here: it is restored unless a mark
		// that can still be read names it, even when a damaged
		// state.json lost the others (then every other version counts as
		// bad). It is health-checked again before it is confirmed.
		if haveFloor && v.Compare(floor) == 0 && !ms.markedBad(v.String()) {
			best = &v
			break
		}
		if ms.isBad(v.String()) {
			continue
		}
		if best == nil || v.Compare(*best) > 0 {
			best = &v
		}
	}
	if best == nil {
		return nil, nil
	}
	restored := devstate.Pointer{ModelID: modelID, Version: best.String(), Trial: true}
	if err := devstate.WritePointer(p, restored, c.now()); err != nil {
		return nil, codes.Errorf(StateInvalid, err, "restoring %s", p.Pointer())
	}
	return devstate.ReadPointer(p, modelID)
}
