package repo

import (
	"fmt"
	"math"
	"strings"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Which patches add-target publishes is decided here, from the signed
// metadata; computing, checking and storing them is package targetstore's
// job (Store.PutDeltas).

// checkDeltaOptions validates the delta options before anything is read.
func checkDeltaOptions(opts *AddOptions) (float64, error) {
	saving := opts.DeltaMinSaving
	if saving == 0 {
		saving = targetstore.DefaultDeltaMinSaving
	}
	if math.IsNaN(saving) || saving <= 0 || saving >= 1 {
		return 0, fmt.Errorf("delta minimum saving %v: must be between 0 and 1 (exclusive), e.g. 0.30 for 30%%", opts.DeltaMinSaving)
	}
	if len(opts.DeltaFrom) > targets.MaxDeltaBases {
		return 0, fmt.Errorf("%w: at most %d base versions, got %d", ErrDeltaBase, targets.MaxDeltaBases, len(opts.DeltaFrom))
	}
	for _, b := range opts.DeltaFrom {
		if _, err := targets.ParseVersion(b); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrDeltaBase, err)
		}
	}
	return saving, nil
}

// resolveDeltaBases checks that each requested base is a published version
// of the model, older than the new one, named once, and returns the bases
// with their payload targets. It runs before anything is written.
func resolveDeltaBases(st *state, m *targets.Manifest, from []string) ([]targetstore.DeltaBase, error) {
	if len(from) == 0 {
		return nil, nil
	}
	nv, err := targets.ParseVersion(m.Version)
	if err != nil {
		return nil, err
	}
	published := targets.PublishedVersions(st.targets.Signed.Targets)[m.ModelID]
	var list []string
	for _, pv := range published {
		list = append(list, pv.String())
	}
	var out []targetstore.DeltaBase
	seen := map[string]string{}
	for _, b := range from {
		bv, err := targets.ParseVersion(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDeltaBase, err)
		}
		if bv.Compare(nv) >= 0 {
			return nil, fmt.Errorf("%w: %s %s is not older than the version being published, %s", ErrDeltaBase, m.ModelID, b, m.Version)
		}
		var match string
		for _, pv := range published {
			if pv.Compare(bv) == 0 {
				match = pv.String()
			}
		}
		if match == "" {
			if len(list) == 0 {
				return nil, fmt.Errorf("%w: %s %s is not published (no version of %s is)", ErrDeltaBase, m.ModelID, b, m.ModelID)
			}
			return nil, fmt.Errorf("%w: %s %s is not published (published: %s)", ErrDeltaBase, m.ModelID, b, strings.Join(list, ", "))
		}
		if prev, dup := seen[match]; dup {
			return nil, fmt.Errorf("%w: %s given twice (%s, %s)", ErrDeltaBase, match, prev, b)
		}
		seen[match] = b
		mp := targets.ManifestPath(m.ModelID, match)
		mtf := st.targets.Signed.Targets[mp]
		if mtf == nil {
			return nil, fmt.Errorf("%w: %s %s: no %s target", ErrDeltaBase, m.ModelID, match, mp)
		}
		c, err := targets.ParseCustom(mp, mtf.Custom)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrDeltaBase, m.ModelID, match, err)
		}
		db := targetstore.DeltaBase{Version: match, Files: map[string]*metadata.TargetFiles{}}
		for _, f := range c.Files {
			if tf := st.targets.Signed.Targets[targets.TargetPath(m.ModelID, match, f)]; tf != nil {
				db.Files[f] = tf
			}
		}
		out = append(out, db)
	}
	return out, nil
}
