package repo

import (
	"fmt"
	"math"

	"github.com/edgetuf/edgetuf/release"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
)

// Which patches add-target publishes is decided from the signed metadata (package
// release: which bases are valid; here: the options and each base's payload
// targets); computing, checking and storing them is targetstore.PutDeltas's job.

// checkDeltaOptions validates the delta options before anything is read.
func checkDeltaOptions(opts *AddOptions) (targetstore.DeltaPolicy, error) {
	saving, none := opts.DeltaMinSaving, targetstore.DeltaPolicy{}
	if saving == 0 {
		saving = targetstore.DefaultDeltaMinSaving
	}
	if math.IsNaN(saving) || saving <= 0 || saving >= 1 {
		return none, fmt.Errorf("delta minimum saving %v: must be between 0 and 1 (exclusive), e.g. 0.30 for 30%%", opts.DeltaMinSaving)
	}
	if len(opts.DeltaFrom) > targets.MaxDeltaBases {
		return none, fmt.Errorf("%w: at most %d base versions, got %d", ErrDeltaBase, targets.MaxDeltaBases, len(opts.DeltaFrom))
	}
	for _, b := range opts.DeltaFrom {
		if _, err := targets.ParseVersion(b); err != nil {
			return none, fmt.Errorf("%w: %v", ErrDeltaBase, err)
		}
	}
	return targetstore.DeltaPolicy{MinSaving: saving, FastApply: opts.DeltaFastApply}, nil
}

// deltaBases resolves opts.DeltaFrom in the targets clients resolve
// (package release's rules), each base with its payload targets.
func deltaBases(view *state, m *targets.Manifest, from []string) ([]release.Base, []targetstore.DeltaBase, error) {
	bases, err := release.DeltaBases(view.targets.Signed.Targets, m, from)
	if err != nil {
		return nil, nil, err
	}
	out, err := targetstore.DeltaBasesOf(view.targets.Signed.Targets, m.ModelID, bases)
	return bases, out, err
}
