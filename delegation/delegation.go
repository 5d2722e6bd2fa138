package delegation

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/edgetuf/edgetuf/internal/repoconfig"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Errors of delegation operations, wrapped with details.
var (
	// ErrDelegation: a delegation request is invalid or conflicts with the
	// repository's delegations (unknown role, reused name, hash bins mixed
	// with named roles, a threshold above the number of keys, ...).
	ErrDelegation = errors.New("invalid delegation")
	// ErrOutsideDelegation: a delegated role was asked to sign a target
	// path it is not delegated, or that clients would never look up in it.
	ErrOutsideDelegation = errors.New("target path outside the role's delegation")
)

// MaxBins is the largest number of succinct hash bins Delegate creates.
// A device lists a model's versions from the model's version index (one
// bin, targets.VersionIndexPath), so the number of bins costs it only the
// snapshot's entries for them (a few dozen bytes each).
const MaxBins = repoconfig.MaxBins

var roleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// CheckRoleName checks the name of a delegated role (or the name prefix of
// hash bins): 1 to 64 characters of A-Z a-z 0-9 _ -, starting with a
// letter or digit, and not a top-level role's name. The name is part of
// metadata file names (N.NAME.json) and URLs, so nothing else is allowed.
func CheckRoleName(name string) error {
	if !roleNameRE.MatchString(name) {
		return fmt.Errorf("%w: role name %q: use 1 to 64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit", ErrDelegation, name)
	}
	if isTopLevelRole(strings.ToLower(name)) {
		return fmt.Errorf("%w: role name %q is a top-level role's", ErrDelegation, name)
	}
	return nil
}

// CheckPathPattern checks a delegated path pattern. TUF (and go-tuf)
// matches a pattern against a target path component by component, with
// shell-style wildcards inside each component: `*` never matches `/`, and
// a pattern matches only paths with as many components. Model targets have
// 4 components (models/<model_id>/<version>/<file>) and delta patches 6
// (models/<model_id>/<version>/deltas/<base>/<file>), so a useful pattern
// has 4 or 6 components, the first matching "models".
func CheckPathPattern(p string) error {
	if _, err := path.Match(p, ""); err != nil || p == "" {
		return fmt.Errorf("%w: path pattern %q is malformed", ErrDelegation, p)
	}
	parts := strings.Split(p, "/")
	for _, c := range parts {
		if c == "" {
			return fmt.Errorf("%w: path pattern %q has an empty component", ErrDelegation, p)
		}
	}
	if len(parts) != 4 && len(parts) != 6 {
		return fmt.Errorf("%w: path pattern %q has %d components and matches no model target: patterns match component by component (* does not match /), "+
			"and targets are models/<model_id>/<version>/<file> (4) or models/<model_id>/<version>/deltas/<base>/<file> (6); "+
			"for example models/vision-*/*/*, or --model 'vision-*' for both", ErrDelegation, p, len(parts))
	}
	if ok, _ := path.Match(parts[0], targets.ModelsDir); !ok {
		return fmt.Errorf("%w: path pattern %q matches no model target: they start with %s/", ErrDelegation, p, targets.ModelsDir)
	}
	if ok, _ := path.Match(parts[3], targets.DeltasDir); len(parts) == 6 && !ok {
		return fmt.Errorf("%w: path pattern %q has 6 components but its fourth does not match %q: 6-component targets are delta patches, models/<model_id>/<version>/deltas/<base>/<file>", ErrDelegation, p, targets.DeltasDir)
	}
	return nil
}

// ModelPatterns returns the path patterns that delegate every target of
// the models whose IDs match idPattern (a model ID or a shell pattern such
// as "vision-*"): their versions' files and their delta patches.
func ModelPatterns(idPattern string) ([]string, error) {
	if idPattern == "" || strings.Contains(idPattern, "/") {
		return nil, fmt.Errorf("%w: model ID pattern %q: one path component, e.g. detector or 'vision-*'", ErrDelegation, idPattern)
	}
	if _, err := path.Match(idPattern, ""); err != nil {
		return nil, fmt.Errorf("%w: model ID pattern %q is malformed", ErrDelegation, idPattern)
	}
	base := targets.ModelsDir + "/" + idPattern
	return []string{base + "/*/*", base + "/*/" + targets.DeltasDir + "/*/*"}, nil
}

// Options describe a delegated role to add, update or remove, or
// succinct hash bins (TAP 15) to create or re-key.
type Options struct {
	// Name is the delegated role (named delegation).
	Name string
	// Paths replaces the role's path patterns (CheckPathPattern); nil keeps
	// them. Required for a new role.
	Paths []string
	// Keys are public keys to add to the role; with ReplaceKeys they become
	// its whole key set. RemoveKeys lists key IDs (or unique prefixes of at
	// least 8 hex digits) to remove.
	Keys        []*metadata.Key
	ReplaceKeys bool
	RemoveKeys  []string
	// Threshold is how many of the role's keys must sign it; 0 keeps it (1
	// for a new role).
	Threshold int
	// Terminating, when set, makes the delegation terminating or not (a new
	// role is not terminating unless set).
	Terminating *bool
	// Remove removes the delegation.
	Remove bool
	// Bins and NamePrefix delegate every target path to Bins succinct hash
	// bins named NamePrefix-<hex> (a power of two, 2 to MaxBins) instead of
	// a named role. With bins already delegated, NamePrefix alone (and Bins
	// 0 or unchanged) updates their keys and threshold.
	Bins       int
	NamePrefix string
}

// IsBins reports whether the options are about hash bins.
func (o *Options) IsBins() bool { return o.Bins != 0 || o.NamePrefix != "" }

// Validate checks options before any repository is read;
// mrepo reports a failure as a usage error.
func (o Options) Validate() error {
	if o.Threshold < 0 {
		return fmt.Errorf("%w: threshold %d", ErrDelegation, o.Threshold)
	}
	if o.IsBins() {
		if o.Name != "" {
			return fmt.Errorf("%w: a role name and hash bins exclude each other", ErrDelegation)
		}
		if err := CheckRoleName(o.NamePrefix); err != nil {
			return err
		}
		if o.Bins != 0 && (o.Bins < 2 || o.Bins > MaxBins || o.Bins&(o.Bins-1) != 0) {
			return fmt.Errorf("%w: %d hash bins: use a power of two from 2 to %d", ErrDelegation, o.Bins, MaxBins)
		}
		if len(o.Paths) > 0 || o.Terminating != nil {
			return fmt.Errorf("%w: hash bins cover every target path and are terminating: paths and terminating do not apply", ErrDelegation)
		}
		if o.Remove {
			return fmt.Errorf("%w: hash bins cannot be removed (their targets would disappear)", ErrDelegation)
		}
		return nil
	}
	if o.Name == "" {
		return fmt.Errorf("%w: a role name (or hash bins) is required", ErrDelegation)
	}
	if err := CheckRoleName(o.Name); err != nil {
		return err
	}
	for _, p := range o.Paths {
		if err := CheckPathPattern(p); err != nil {
			return err
		}
	}
	if o.Remove && (o.Paths != nil || len(o.Keys) > 0 || o.ReplaceKeys || len(o.RemoveKeys) > 0 || o.Threshold != 0 || o.Terminating != nil) {
		return fmt.Errorf("%w: removing a role takes no other change", ErrDelegation)
	}
	return nil
}

// ApplyKeys updates a role's key IDs as opts say, adding new keys to the
// delegations' key map.
func ApplyKeys(ids *[]string, all map[string]*metadata.Key, opts Options) error {
	if opts.ReplaceKeys {
		*ids = nil
	}
	for _, k := range opts.Keys {
		if err := pubkey.Check(k); err != nil {
			return fmt.Errorf("%w: key: %v", ErrDelegation, err)
		}
		id, err := k.ID()
		if err != nil {
			return fmt.Errorf("%w: key: %v", ErrDelegation, err)
		}
		all[id] = k
		if !slices.Contains(*ids, id) {
			*ids = append(*ids, id)
		}
	}
	for _, rm := range opts.RemoveKeys {
		id, err := matchKeyID(*ids, rm)
		if err != nil {
			return err
		}
		*ids = slices.DeleteFunc(*ids, func(s string) bool { return s == id })
	}
	return nil
}

// matchKeyID finds the key ID that s names: the whole ID or a unique prefix
// of at least 8 hex digits.
func matchKeyID(ids []string, s string) (string, error) {
	s = strings.ToLower(s)
	found := pubkey.Matching(ids, s)
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("%w: the role has no key %s (its keys: %s; give the whole ID or at least 8 hex digits)", ErrDelegation, s, strings.Join(pubkey.ShortIDs(ids), ", "))
	}
	return "", fmt.Errorf("%w: key ID prefix %s is ambiguous", ErrDelegation, s)
}

// CheckThreshold checks a role's threshold against its number of keys.
func CheckThreshold(role string, threshold, nkeys int) error {
	if nkeys == 0 {
		return fmt.Errorf("%w: role %s would have no key", ErrDelegation, role)
	}
	if threshold < 1 || threshold > nkeys {
		return fmt.Errorf("%w: role %s: threshold %d with %d key(s); it must be between 1 and the number of keys", ErrDelegation, role, threshold, nkeys)
	}
	return nil
}

// PruneKeys removes keys that no delegation uses any more.
func PruneKeys(d *metadata.Delegations) {
	used := map[string]bool{}
	for _, r := range d.Roles {
		for _, id := range r.KeyIDs {
			used[id] = true
		}
	}
	if d.SuccinctRoles != nil {
		for _, id := range d.SuccinctRoles.KeyIDs {
			used[id] = true
		}
	}
	for id := range d.Keys {
		if !used[id] {
			delete(d.Keys, id)
		}
	}
}

// Dedupe returns ss without repeated strings, in order.
func Dedupe(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func isTopLevelRole(name string) bool {
	switch name {
	case metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP:
		return true
	}
	return false
}
