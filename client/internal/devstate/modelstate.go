package devstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/targets"
	"io"
	"os"
	"slices"
	"sort"
)

// ModelState[R] is the content of models/<model>/state.json: what the device
// remembers of a model besides its active version. It stays bounded
// whatever the repository publishes: at most MaxBadVersions marks, and a
// last result trimmed by the caller, so the file stays far below
// maxStateFile.
type ModelState[R any] struct {
	// BadVersions are the versions that failed their health check here
	// or that an operator rolled back from: never installed again.
	BadVersions []string `json:"bad_versions"`
	// BadThrough, when set, marks as bad every version up to and
	// including it, besides those listed. It is how marks stay bounded
	// without forgetting one: when there are more than MaxBadVersions
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
	LastResult *R `json:"last_result,omitempty"`
}

const (
	// MaxBadVersions bounds the versions listed as bad (about 34 KiB).
	MaxBadVersions = 256
	// maxSalvage bounds what is read of a damaged state.json to recover
	// its marks (a file written by an older client could be large).
	maxSalvage = 16 << 20
	// damagedSuffix names where a damaged state file is set aside.
	DamagedSuffix = ".damaged"
)

func (s *ModelState[R]) IsBad(v string) bool {
	return s.MarksLost || s.MarkedBad(v)
}

// MarkedBad reports whether the marks that can be read name v.
func (s *ModelState[R]) MarkedBad(v string) bool {
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

// MarkBad marks v bad; writeModelState bounds the marks.
func (s *ModelState[R]) MarkBad(v string) {
	if !s.IsBad(v) {
		s.BadVersions = append(s.BadVersions, v)
	}
}

// fold keeps at most MaxBadVersions marks: the lowest versions go into
// BadThrough.
func (s *ModelState[R]) fold() {
	if len(s.BadVersions) <= MaxBadVersions {
		return
	}
	vs := make([]targets.Version, 0, len(s.BadVersions))
	for _, b := range s.BadVersions {
		if v, err := targets.ParseVersion(b); err == nil {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Compare(vs[j]) < 0 })
	if len(vs) > MaxBadVersions {
		s.raiseBadThrough(vs[len(vs)-MaxBadVersions-1])
		vs = vs[len(vs)-MaxBadVersions:]
	}
	s.BadVersions = s.BadVersions[:0]
	for _, v := range vs {
		s.BadVersions = append(s.BadVersions, v.String())
	}
}

func (s *ModelState[R]) raiseBadThrough(v targets.Version) {
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

// Prune drops, when there are more marks than MaxBadVersions, those
// below the floor: those versions are never candidates, so forgetting
// them cannot make one be retried (below the cap they stay, for people to
// see). A BadThrough below the floor means nothing and always goes.
func (s *ModelState[R]) Prune(floor targets.Version) {
	if len(s.BadVersions) > MaxBadVersions {
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

// Settle ends MarksLost once the versions published are known: every one
// of them up to newest counts as bad.
func (s *ModelState[R]) Settle(newest targets.Version) {
	if s.MarksLost {
		s.MarksLost = false
		s.raiseBadThrough(newest)
	}
}

// ReadModelState reads state.json. It never fails: a file that cannot be
// read as written (cut short, garbage, larger than maxStateFile, unknown
// fields, a link or a special file) must not stop the model for ever. Its
// last result, which is informational, is dropped; its bad-version marks,
// which are not, are salvaged when the file can be parsed that far
// (reading at most maxSalvage bytes), and otherwise counted as lost
// (MarksLost: fail closed until the next update bounds them). damage, when
// set, says what was wrong, for the caller to record (client's recordDamage).
func ReadModelState[R any](p ModelPaths) (ms *ModelState[R], damage error) {
	var s ModelState[R]
	err := ReadJSON(p.FS, p.State(), &s)
	if errors.Is(err, os.ErrNotExist) {
		return &ModelState[R]{BadVersions: []string{}}, nil
	}
	if err == nil {
		err = s.check()
	}
	if err == nil {
		s.fold()
		return &s, nil
	}
	damage = codes.Errorf(codes.StateInvalid, err, "%s", p.State())
	if salvaged, ok := salvageMarks[R](p); ok {
		salvaged.fold()
		return salvaged, damage
	}
	return &ModelState[R]{BadVersions: []string{}, MarksLost: true}, damage
}

// check refuses marks that do not parse: a hand-edited file.
func (s *ModelState[R]) check() error {
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
func salvageMarks[R any](p ModelPaths) (*ModelState[R], bool) {
	f, err := p.FS.Open(p.State())
	if err != nil {
		return nil, false
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, maxSalvage))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	s := &ModelState[R]{}
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

// WriteModelState stores s, bounded: its last result is stored as trim
// returns it (the Result the caller holds is not changed).
func WriteModelState[R any](p ModelPaths, s *ModelState[R], trim func(*R) *R) error {
	stored := *s
	// fold works in place: not on the caller's marks.
	stored.BadVersions = slices.Clone(s.BadVersions)
	stored.fold()
	stored.LastResult = trim(s.LastResult)
	if stored.BadVersions == nil {
		stored.BadVersions = []string{}
	}
	if err := p.FS.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	return WriteJSON(p.FS, p.State(), &stored)
}
