// Package anti_rollback keeps, per model, the lowest version a device may
// ever install again: a floor that only goes up.
//
// # The Store contract
//
// Every Store, whatever holds it, promises:
//
//   - Monotonic: Raise never lowers a floor (ErrLower); the only way down
//     is StepDown, from exactly the current floor, which the client calls
//     for one signed revocation step (client/rollout.go) and nothing else.
//     An EpochStore's epoch never goes down at all: RaiseEpoch only
//     raises it.
//   - Fail closed: a store that is damaged, unreadable, or absent where
//     it is expected (a floor recorded for a model whose hardware counter
//     is gone) is an error, never "no floor". A floor that was never
//     recorded (a model never installed) is ok=false, not an error.
//   - Hardware absent, unreachable, reset or cleared: every method returns
//     an error wrapping ErrUnavailable (the client reports
//     ANTI_ROLLBACK_UNAVAILABLE and stops); a store never falls back to a
//     weaker one. Recovery is an operator's act that starts new counters
//     (tpmstore.Store.Reprovision, mclient init --reprovision) and says
//     what trust was lost.
//
// # The file store
//
// The file store writes the floor crash-safely (temporary file, fsync,
// rename, directory fsync) in two copies and reads the higher of the two,
// so a torn write or one copy rewritten by hand does not lower it. An
// attacker who can rewrite every file of the device can still lower a
// file-based floor; the client therefore also never goes below the
// version it has active and verified.
//
// # Hardware: the rollback epoch
//
// A hardware monotonic counter (a TPM 2.0 NV counter, package tpmstore)
// only counts up by one, so it cannot hold a semantic version. It holds
// the model's signed rollback epoch instead (targets.Custom.Epoch: the
// repository gives each new highest version of a model the model's
// highest epoch plus one, so epochs never decrease in version order): an
// EpochStore keeps the version floor as the file store does and, beside
// it, an epoch floor that no file edit can lower. The client refuses any
// version whose signed epoch is below it, unless a signed revocation of
// every listed version between permits the step (docs/design.md, section
// 21).
package anti_rollback

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// ErrLower is returned by Raise for a version below the current floor.
var ErrLower = errors.New("version is below the anti-rollback floor")

// ErrStepDown is returned by StepDown when the step it asks for is not
// the one permitted.
var ErrStepDown = errors.New("anti-rollback step down refused")

// Store holds per-model floors.
type Store interface {
	// Floor returns the model's floor, or ok=false if none is recorded.
	Floor(modelID string) (v targets.Version, ok bool, err error)
	// Raise records v as the floor. Raising to the current floor is a
	// no-op; a lower version is refused with ErrLower.
	Raise(modelID string, v targets.Version) error
	// StepDown lowers the floor from exactly from to to (to < from): the
	// one step down a verified revocation of the active version from
	// permits. It refuses (ErrStepDown) unless the current floor is from,
	// so it can step down once per revocation, never below a floor that
	// was raised since, and never from a version that is not the floor.
	// Only the client's revocation rollback calls it.
	StepDown(modelID string, from, to targets.Version) error
}

// FileStore is a Store in a directory: <model_id>.json and
// <model_id>.json.bak, each {"model_id": ..., "floor": ...}.
//
// No symbolic link is followed from the directory's parent down: a store
// directory or copy that is a link (or a FIFO, or a device file) makes
// Floor fail (a damaged store is not an empty store) and is never written
// through; Raise replaces copies by renames, which act on the names
// themselves.
type FileStore struct {
	Dir string
	fs  afero.Fs
}

// NewFileStore returns a store in dir (created on first Raise).
func NewFileStore(dir string) *FileStore {
	return &FileStore{Dir: dir, fs: safefs.New(filepath.Dir(filepath.Clean(dir))).Afero()}
}

// maxRecord bounds a copy's size: a record is one short JSON line.
const maxRecord = 4096

type record struct {
	ModelID string `json:"model_id"`
	Floor   string `json:"floor"`
}

func (s *FileStore) paths(modelID string) []string {
	p := filepath.Join(s.Dir, modelID+".json")
	return []string{p, p + ".bak"}
}

// Floor reads both copies and returns the higher floor. A copy that is
// missing is ignored; a copy that exists but does not parse is an error
// (fail closed: a damaged store is not an empty store).
func (s *FileStore) Floor(modelID string) (targets.Version, bool, error) {
	if err := targets.CheckModelID(modelID); err != nil {
		return targets.Version{}, false, err
	}
	var best targets.Version
	found := false
	for _, p := range s.paths(modelID) {
		data, err := s.read(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return targets.Version{}, false, err
		}
		v, err := parseRecord(modelID, data)
		if err != nil {
			return targets.Version{}, false, fmt.Errorf("anti-rollback store %s: %w", p, err)
		}
		if !found || v.Compare(best) > 0 {
			best, found = v, true
		}
	}
	return best, found, nil
}

// read reads one copy, at most maxRecord+1 bytes of it.
func (s *FileStore) read(p string) ([]byte, error) {
	f, err := s.fs.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxRecord+1))
}

func parseRecord(modelID string, data []byte) (targets.Version, error) {
	if len(data) > maxRecord {
		return targets.Version{}, errors.New("record too large")
	}
	var r record
	if err := jsonlimit.Unmarshal(data, &r, maxRecord); err != nil {
		return targets.Version{}, err
	}
	if r.ModelID != modelID {
		return targets.Version{}, fmt.Errorf("record is for model %q", r.ModelID)
	}
	return targets.ParseVersion(r.Floor)
}

// Raise records v as the model's floor in both copies, the backup first.
func (s *FileStore) Raise(modelID string, v targets.Version) error {
	cur, ok, err := s.Floor(modelID)
	if err != nil {
		return err
	}
	if ok {
		switch c := v.Compare(cur); {
		case c < 0:
			return fmt.Errorf("%w: %s %s < %s", ErrLower, modelID, v, cur)
		case c == 0 && s.bothCurrent(modelID, cur):
			return nil
		}
	}
	return s.write(modelID, v)
}

// StepDown lowers the floor from exactly from to to, in both copies. The
// backup copy is written first: Floor reads the higher copy, so a crash
// between the two writes leaves the floor at from, and the step can be
// taken again.
func (s *FileStore) StepDown(modelID string, from, to targets.Version) error {
	if to.Compare(from) >= 0 {
		return fmt.Errorf("%w: %s %s is not below %s", ErrStepDown, modelID, to, from)
	}
	cur, ok, err := s.Floor(modelID)
	if err != nil {
		return err
	}
	if !ok || cur.Compare(from) != 0 || cur.String() != from.String() {
		have := "none"
		if ok {
			have = cur.String()
		}
		return fmt.Errorf("%w: %s: the floor is %s, not %s", ErrStepDown, modelID, have, from)
	}
	return s.write(modelID, to)
}

// write records v in both copies, the backup first.
func (s *FileStore) write(modelID string, v targets.Version) error {
	data, err := json.Marshal(record{ModelID: modelID, Floor: v.String()})
	if err != nil {
		return err
	}
	if err := s.fs.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	ps := s.paths(modelID)
	for _, p := range []string{ps[1], ps[0]} {
		if err := atomicfs.WriteFile(s.fs, p, append(data, '\n'), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// bothCurrent reports whether both copies hold exactly v (so a Raise to
// the same floor can skip writing; otherwise it repairs the copies).
func (s *FileStore) bothCurrent(modelID string, v targets.Version) bool {
	for _, p := range s.paths(modelID) {
		data, err := s.read(p)
		if err != nil {
			return false
		}
		got, err := parseRecord(modelID, data)
		if err != nil || got.Compare(v) != 0 {
			return false
		}
	}
	return true
}

// Models lists the models that have a floor copy in the store, sorted. A
// store directory that does not exist holds none.
func (s *FileStore) Models() ([]string, error) {
	entries, err := afero.ReadDir(s.fs, s.Dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		id, ok := strings.CutSuffix(strings.TrimSuffix(e.Name(), ".bak"), ".json")
		if ok && targets.CheckModelID(id) == nil && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}
