package client

import (
	"os"
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
	// Floor is the lowest version the device will install ("" if none).
	Floor      string  `json:"anti_rollback_floor,omitempty"`
	LastResult *Result `json:"last_result,omitempty"`
}

// Models lists the models that have state on the device.
func (c *Client) Models() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(c.dir, modelsDir))
	if err != nil {
		return nil, errorf(StateInvalid, err, "listing models")
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
		return nil, errorf(TargetNotFound, err, "model id")
	}
	p := c.paths(modelID)
	ptr, err := readPointer(p, modelID)
	if err != nil {
		return nil, err
	}
	ms, err := readModelState(p)
	if err != nil {
		return nil, err
	}
	st := &ModelStatus{ModelID: modelID, Installed: []string{}, BadVersions: ms.BadVersions, LastResult: ms.LastResult}
	if ptr != nil {
		st.Version, st.Path, st.Previous, st.Trial, st.ActivatedAt = ptr.Version, p.version(ptr.Version), ptr.Previous, ptr.Trial, ptr.ActivatedAt
	}
	if f, ok, err := c.floor(modelID, ptr); err != nil {
		return nil, err
	} else if ok {
		st.Floor = f.String()
	}
	entries, _ := os.ReadDir(p.dir)
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
	st, err := c.Status(modelID)
	if err != nil {
		return nil, err
	}
	if st.Version == "" {
		return st, errorf(NoActiveModel, nil, "%s has no active version", modelID)
	}
	s, err := c.session(true)
	if err == nil {
		err = s.refresh()
	}
	if err != nil {
		return st, err
	}
	fs, err := c.signedFiles(s, modelID, st.Version)
	if err != nil {
		return st, err
	}
	return st, verifyDir(st.Path, fs)
}

// Rollback switches explicitly back to the previous installed version,
// after re-verifying it, and marks the current one bad so that updates do
// not reinstall it. The anti-rollback floor is not lowered: updates still
// never install anything older than the newest confirmed version, but an
// operator may return to a version already on the device.
func (c *Client) Rollback(modelID string) (*Result, error) {
	if err := targets.CheckModelID(modelID); err != nil {
		return nil, errorf(TargetNotFound, err, "model id")
	}
	var res *Result
	err := c.locked(func() error {
		p := c.paths(modelID)
		ptr, err := readPointer(p, modelID)
		if err != nil {
			return err
		}
		if ptr == nil {
			return errorf(NoActiveModel, nil, "%s has no active version", modelID)
		}
		if ptr.Previous == "" {
			return errorf(NoActiveModel, nil, "%s %s has no previous version to go back to", modelID, ptr.Version)
		}
		if _, err := os.Stat(p.version(ptr.Previous)); err != nil {
			return errorf(NoActiveModel, nil, "%s %s is no longer installed (retention keeps --keep versions)", modelID, ptr.Previous)
		}
		s, err := c.session(true)
		if err == nil {
			err = s.refresh()
		}
		if err != nil {
			return err
		}
		fs, err := c.signedFiles(s, modelID, ptr.Previous)
		if err != nil {
			return err
		}
		if err := verifyDir(p.version(ptr.Previous), fs); err != nil {
			return err
		}
		ms, err := readModelState(p)
		if err != nil {
			return err
		}
		ms.markBad(ptr.Version)
		if err := writeModelState(p, ms); err != nil {
			return errorf(StateInvalid, err, "marking %s bad", ptr.Version)
		}
		if err := c.writePointer(p, pointer{ModelID: modelID, Version: ptr.Previous}); err != nil {
			return errorf(StateInvalid, err, "switching to %s", ptr.Previous)
		}
		c.event(Event{Event: EventRolledBack, ModelID: modelID, FromVersion: ptr.Version, ToVersion: ptr.Previous})
		res = &Result{Time: c.now().UTC().Format(targets.TimeFormat), ModelID: modelID, Outcome: OutcomeRolledBack,
			Version: ptr.Previous, Path: p.version(ptr.Previous), FromVersion: ptr.Version, ToVersion: ptr.Previous}
		ms.LastResult = res
		return writeModelState(p, ms)
	})
	return res, err
}
