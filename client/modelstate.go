package client

import (
	"errors"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/report"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"os"
)

// modelState is models/<model>/state.json (client/internal/devstate),
// with the last Result.
type modelState = devstate.ModelState[Result]

func readModelState(p devstate.ModelPaths) (*modelState, error) {
	return devstate.ReadModelState[Result](p)
}

// writeModelState stores s with its last result trimmed by report.Stored.
func writeModelState(p devstate.ModelPaths, s *modelState) error {
	return devstate.WriteModelState(p, s, report.Stored)
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
	if err := p.FS.Rename(path, path+devstate.DamagedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return codes.Errorf(StateInvalid, err, "setting the damaged %s aside", path)
	}
	c.event(Event{Event: EventStateReset, ModelID: modelID, Code: StateInvalid})
	return nil
}

// saveModelState prunes the marks with the model's floor, then stores s.
func (c *Client) saveModelState(p devstate.ModelPaths, modelID string, ptr *devstate.Pointer, s *modelState) error {
	if floor, ok, err := c.floor(modelID, ptr); err == nil && ok {
		s.Prune(floor)
	}
	return writeModelState(p, s)
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
	newest := cands.At(0) // the highest precedence (newerFirst)
	if newest == nil {
		return cands.Err() // nothing published: nothing to retry yet
	}
	u.ms.Settle(newest.version)
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
	best, err := devstate.RecoverVersion(p, floor, haveFloor, ms.MarkedBad, ms.IsBad)
	if err != nil {
		return nil, err
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
