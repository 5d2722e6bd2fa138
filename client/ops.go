package client

import (
	"context"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/verifiedread"
	"path/filepath"
	"sort"

	"github.com/edgetuf/edgetuf/targets"
)

// ModelStatus describes one model on the device.
type ModelStatus struct {
	ModelID string `json:"model_id"`
	// Version and Path name the active version ("" if none).
	Version  string `json:"version"`
	Path     string `json:"path"`
	Previous string `json:"previous,omitempty"`
	// Trial is set while the active version awaits its health check.
	Trial       bool     `json:"trial,omitempty"`
	ActivatedAt string   `json:"activated_at,omitempty"`
	Installed   []string `json:"installed"`
	BadVersions []string `json:"bad_versions"`
	// BadThrough, when set, marks as bad every version up to and including
	// it besides BadVersions: older marks folded together to keep the state
	// bounded, or marks lost with a damaged state file (fail closed).
	BadThrough string `json:"bad_through,omitempty"`
	// BadMarksLost: the model's state.json is damaged and its marks could
	// not be read; the next update counts every version then published as
	// bad (and sets BadThrough).
	BadMarksLost bool `json:"bad_marks_lost,omitempty"`
	// Floor is the lowest version the device will install ("" if none).
	Floor      string  `json:"anti_rollback_floor,omitempty"`
	LastResult *Result `json:"last_result,omitempty"`
	// Schedule is the retry schedule after failed runs (backoff), with
	// the per-version verification failures; absent when there is none.
	Schedule *Schedule `json:"schedule,omitempty"`
}

// Models lists the models that have state on the device.
func (c *Client) Models() ([]string, error) {
	if err := devstate.CheckState(c.dir); err != nil {
		return nil, err
	}
	entries, err := c.sfs().ReadDir(filepath.Join(c.dir, devstate.ModelsDir))
	if err != nil {
		return nil, codes.Errorf(StateInvalid, err, "listing models")
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && targets.CheckModelID(e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Status reports a model's state. It reads the state directory only; use
// Verify to re-check the files.
func (c *Client) Status(modelID string) (*ModelStatus, error) {
	if err := targets.CheckModelID(modelID); err != nil {
		return nil, codes.Errorf(TargetNotFound, err, "model id")
	}
	if err := devstate.CheckState(c.dir); err != nil {
		return nil, err
	}
	p := c.paths(modelID)
	ptr, err := devstate.ReadPointer(p, modelID)
	if err != nil {
		return nil, err
	}
	// A damaged state.json is reported as recovered (read only: the next
	// update records the reset).
	ms, _ := readModelState(p)
	st := &ModelStatus{ModelID: modelID, Installed: []string{}, BadVersions: ms.BadVersions,
		BadThrough: ms.BadThrough, BadMarksLost: ms.MarksLost, LastResult: ms.LastResult}
	if ptr != nil {
		st.Version, st.Path, st.Previous, st.Trial, st.ActivatedAt = ptr.Version, p.Version(ptr.Version), ptr.Previous, ptr.Trial, ptr.ActivatedAt
	}
	if sched, _ := devstate.ReadSchedule(p); sched.Attempts > 0 || sched.NotBefore != "" || len(sched.VerifyFailures) > 0 {
		st.Schedule = sched
	}
	if f, ok, err := c.floor(modelID, ptr); err != nil {
		return nil, err
	} else if ok {
		st.Floor = f.String()
	}
	entries, _ := p.FS.ReadDir(p.Dir)
	var vs []targets.Version
	for _, e := range entries {
		if v, err := targets.ParseVersion(e.Name()); err == nil && e.IsDir() {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Compare(vs[j]) < 0 })
	for _, v := range vs {
		st.Installed = append(st.Installed, v.String())
	}
	return st, nil
}

// Verify re-checks the active version's files on disk against the signed
// metadata the device trusts (no network needed): someone with filesystem
// access may have replaced a file. It returns the verified status.
func (c *Client) Verify(modelID string) (*ModelStatus, error) {
	st, m, err := c.active(modelID)
	if err == nil {
		err = m.Verify(context.Background())
	}
	return st, err
}

// ActiveModel is a model's active version with its signed files; its
// Open returns readers that hash while the application reads
// (docs/client.md, section 10).
type ActiveModel = verifiedread.Model

// OpenActive returns the active version of modelID as the signed
// metadata the device trusts describes it, verified now (no network). A
// version kept encrypted at rest is unsealed: its kept key envelope is
// opened with the device or fleet key on every call (KEY_UNAVAILABLE,
// DECRYPT_FAILED or DEVICE_KEY_UNAVAILABLE otherwise), and its Open
// decrypts (docs/client.md, section 10).
func (c *Client) OpenActive(modelID string) (*ActiveModel, error) {
	_, m, err := c.active(modelID)
	if err == nil {
		err = m.Unseal(c.dir, c.keys, c.now())
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ActiveEncryption describes the active version of modelID without
// opening any key: its signed encryption (nil: not encrypted) and whether
// it is kept encrypted at rest.
func (c *Client) ActiveEncryption(modelID string) (*targets.Encryption, bool, error) {
	_, m, err := c.active(modelID)
	if err != nil {
		return nil, false, err
	}
	return m.Encryption(), m.EncryptedAtRest, nil
}

func (c *Client) active(modelID string) (*ModelStatus, *ActiveModel, error) {
	st, err := c.Status(modelID)
	if err != nil {
		return nil, nil, err
	}
	if st.Version == "" {
		return st, nil, codes.Errorf(NoActiveModel, nil, "%s has no active version", modelID)
	}
	fs, err := c.signedFiles(modelID, st.Version, false, true) // as signed: verifiedread tells the installed form
	if err != nil {
		return st, nil, err
	}
	return st, verifiedread.New(c.sfs(), modelID, st.Version, st.Path, fs), nil
}

// Rollback switches explicitly back to the previous installed version,
// after re-verifying it, and marks the current one bad so that updates do
// not reinstall it. The anti-rollback floor is not lowered: updates still
// never install anything older than the newest confirmed version, but an
// operator may return to a version already on the device.
func (c *Client) Rollback(modelID string) (*Result, error) {
	if err := targets.CheckModelID(modelID); err != nil {
		return nil, codes.Errorf(TargetNotFound, err, "model id")
	}
	var res *Result
	err := c.locked(func() error {
		if err := devstate.CheckState(c.dir); err != nil {
			return err
		}
		p := c.paths(modelID)
		ptr, err := devstate.ReadPointer(p, modelID)
		if err != nil {
			return err
		}
		if ptr == nil {
			return codes.Errorf(NoActiveModel, nil, "%s has no active version", modelID)
		}
		if ptr.Previous == "" {
			return codes.Errorf(NoActiveModel, nil, "%s %s has no previous version to go back to", modelID, ptr.Version)
		}
		if _, err := p.FS.Lstat(p.Version(ptr.Previous)); err != nil {
			return codes.Errorf(NoActiveModel, nil, "%s %s is no longer installed (retention keeps --keep versions)", modelID, ptr.Previous)
		}
		fs, err := c.signedFiles(modelID, ptr.Previous, true, true) // as signed: its form is the installed one, whatever at_rest is now
		if err != nil {
			return err
		}
		if err := verifiedread.New(p.FS, modelID, ptr.Previous, p.Version(ptr.Previous), fs).Verify(context.Background()); err != nil {
			return err
		}
		ms, err := c.loadModelState(p, modelID)
		if err != nil {
			return err
		}
		ms.MarkBad(ptr.Version)
		if err := c.saveModelState(p, modelID, ptr, ms); err != nil {
			return codes.Errorf(StateInvalid, err, "marking %s bad", ptr.Version)
		}
		if err := devstate.WritePointer(p, devstate.Pointer{ModelID: modelID, Version: ptr.Previous}, c.now()); err != nil {
			return codes.Errorf(StateInvalid, err, "switching to %s", ptr.Previous)
		}
		c.event(Event{Event: EventRolledBack, ModelID: modelID, FromVersion: ptr.Version, ToVersion: ptr.Previous})
		res = &Result{Time: c.now().UTC().Format(targets.TimeFormat), ModelID: modelID, Outcome: OutcomeRolledBack,
			Version: ptr.Previous, Path: p.Version(ptr.Previous), FromVersion: ptr.Version, ToVersion: ptr.Previous}
		ms.LastResult = res
		return c.saveModelState(p, modelID, &devstate.Pointer{ModelID: modelID, Version: ptr.Previous}, ms)
	})
	return res, err
}
