// Package repoctl is the repository side of fleet telemetry: publishing
// the signed sampling configuration (telemetry.SamplingTarget, a target
// of the top-level targets role) and halting a rollout for the automatic
// halt (an autohalt.Halter), both through the repository writer's one
// write path (package repo), with the keys at hand or staged for the
// targets key holders. mrepo telemetry sampling and mrepo rollout watch
// are its commands.
package repoctl

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/autohalt"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ParseSamplingRate parses a sampling rate given as a percent ("10%",
// "0.5%"; the % is optional) into basis points, 1 to telemetry.FullRate.
func ParseSamplingRate(s string) (int, error) {
	bp, err := targets.ParsePercent(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	if err == nil && bp < 1 {
		err = fmt.Errorf("percent %q: a sampling rate is at least 0.01%% (to send nothing, configure no collector)", s)
	}
	return bp, err
}

// BuildSampling makes the sampling configuration of a default rate and
// KIND_OR_GROUP=PERCENT rates, checked as devices check it.
func BuildSampling(defaultRate string, rates []string) (*telemetry.Sampling, error) {
	s := &telemetry.Sampling{Format: telemetry.SamplingFormat}
	var err error
	if s.Default, err = ParseSamplingRate(defaultRate); err != nil {
		return nil, fmt.Errorf("default: %w", err)
	}
	for _, kv := range rates {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("rate %q: want KIND_OR_GROUP=PERCENT, such as success=10%%", kv)
		}
		if s.Rates == nil {
			s.Rates = map[string]int{}
		}
		if _, dup := s.Rates[k]; dup {
			return nil, fmt.Errorf("rate for %q given twice", k)
		}
		if s.Rates[k], err = ParseSamplingRate(v); err != nil {
			return nil, fmt.Errorf("rate %q: %w", kv, err)
		}
	}
	return s, s.Check()
}

// SamplingResult is what PublishSampling signed.
type SamplingResult struct {
	Target   string              `json:"target"`
	Length   int64               `json:"length"`
	SHA256   string              `json:"sha256"`
	Sampling *telemetry.Sampling `json:"sampling"`
	Versions repo.Versions       `json:"metadata_versions"`
}

// PublishSampling stores s as the target telemetry.SamplingTarget of the
// top-level targets role (replacing any earlier one; the stored file is
// content-addressed, like every target, under targets/edgetuf/) and
// re-signs targets, snapshot and timestamp with kr. The bytes published
// are checked with telemetry.ParseSampling first: a device never gets a
// document it would refuse.
func PublishSampling(r *repo.Repository, kr keys.Keyring, s *telemetry.Sampling) (*SamplingResult, error) {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	if _, err := telemetry.ParseSampling(data); err != nil {
		return nil, err
	}
	res := &SamplingResult{Target: telemetry.SamplingTarget, Sampling: s}
	v, _, err := r.ChangeTargets(kr, false, func(ts map[string]*metadata.TargetFiles, store targetstore.Store) error {
		tf, err := store.Put(telemetry.SamplingTarget, bytes.NewReader(data), nil, nil)
		if err != nil {
			return err
		}
		ts[telemetry.SamplingTarget] = tf
		res.Length, res.SHA256 = tf.Length, hex.EncodeToString(tf.Hashes["sha256"])
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Versions = *v
	return res, nil
}

// Halter halts rollouts in a repository for the automatic halt: with the
// keys at hand (rollout.Halt re-signed by the role that signs the
// version, then snapshot and timestamp, as mrepo rollout halt does), or,
// with Stage, as a new targets version staged for its key holders.
type Halter struct {
	// Write runs fn on the repository (a directory under its writer lock,
	// or an object-storage URL in a retried session).
	Write func(ctx context.Context, fn func(r *repo.Repository) error) error
	// Keys sign the halt (unused with Stage).
	Keys  keys.Keyring
	Stage bool
}

// Halt halts modelID@version with reason. A version that is not in a
// staged rollout, or is halted already, is refused and left as it is
// (autohalt.ErrNotStaged, ErrAlreadyHalted: see autohalt.HaltChange).
func (h *Halter) Halt(ctx context.Context, modelID, version, reason string) (autohalt.Outcome, string, error) {
	change, err := autohalt.HaltChange(reason)
	if err != nil {
		return autohalt.Failed, "", err
	}
	var out autohalt.Outcome
	var detail string
	err = h.Write(ctx, func(r *repo.Repository) error {
		if !h.Stage {
			res, err := r.ChangeControls(modelID, version, h.Keys, change)
			if err != nil {
				return err
			}
			out, detail = autohalt.Halted, fmt.Sprintf("signed %s v%d, snapshot v%d, timestamp v%d", res.Role, res.RoleVersion, res.Versions.Snapshot, res.Versions.Timestamp)
			return nil
		}
		_, st, err := r.ChangeTargets(nil, true, func(ts map[string]*metadata.TargetFiles, _ targetstore.Store) error {
			return autohalt.StageHalt(ts, modelID, version, change, r.Now())
		})
		if err != nil {
			return err
		}
		out, detail = autohalt.StagedForSigners, fmt.Sprintf("staged targets v%d in %s: the targets key holders sign it (mrepo sign --role targets), then mrepo publish-staged --role targets publishes it", st.Version, st.File)
		return nil
	})
	if err != nil {
		return autohalt.Failed, "", err
	}
	return out, detail, nil
}
