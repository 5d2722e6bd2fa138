package repo

import (
	"errors"
	"fmt"
	"math/bits"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/edgetuf/edgetuf/keys"
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

// MaxBins is the largest number of succinct hash bins Delegate creates: a
// device that lists the versions of a model loads every bin.
const MaxBins = 1024

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

// DelegateOptions describe a delegated role to add, update or remove, or
// succinct hash bins (TAP 15) to create or re-key.
type DelegateOptions struct {
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

func (o *DelegateOptions) isBins() bool { return o.Bins != 0 || o.NamePrefix != "" }

// ValidateDelegateOptions checks options before any repository is read;
// mrepo reports a failure as a usage error.
func ValidateDelegateOptions(o DelegateOptions) error {
	if o.Threshold < 0 {
		return fmt.Errorf("%w: threshold %d", ErrDelegation, o.Threshold)
	}
	if o.isBins() {
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

// DelegateResult reports what Delegate did.
type DelegateResult struct {
	Role        string   `json:"role,omitempty"`
	Created     bool     `json:"created"`
	Removed     bool     `json:"removed,omitempty"`
	Paths       []string `json:"paths,omitempty"`
	KeyIDs      []string `json:"keyids"`
	Threshold   int      `json:"threshold"`
	Terminating bool     `json:"terminating"`
	Bins        int      `json:"bins,omitempty"`
	NamePrefix  string   `json:"name_prefix,omitempty"`
	// RoleVersions lists the delegated roles' metadata this call signed:
	// the first (empty) version of a new role whose keys were at hand, and
	// every bin of new or re-keyed hash bins.
	RoleVersions map[string]int64 `json:"role_versions,omitempty"`
	// Pending reports a role without metadata yet: its keys were not at
	// hand, so its first version comes with its first publication.
	Pending  bool     `json:"pending,omitempty"`
	Versions Versions `json:"metadata_versions"`
	Warnings []string `json:"warnings,omitempty"`
}

// roleWrite is a delegated role's metadata to sign and write.
type roleWrite struct {
	node *roleNode
	md   *metadata.Metadata[metadata.TargetsType]
	ss   []keySigner
}

// Delegate adds, updates or removes a delegated targets role in top-level
// targets, or creates (or re-keys) succinct hash bins, and publishes new
// targets, snapshot and timestamp metadata, signed with keys from kr (the
// targets key, not the delegated role's).
//
// A new role's first metadata (empty) is written in the same publication
// when kr holds enough of the role's own keys; otherwise the role is
// pending until its first add-target --role (or ResignRole), and clients
// cannot resolve the paths delegated to it until then. Hash bins need
// their keys at once: every bin's first version is written with the
// delegation.
func (r *Repository) Delegate(kr keys.Keyring, opts DelegateOptions) (*DelegateResult, error) {
	if err := ValidateDelegateOptions(opts); err != nil {
		return nil, err
	}
	var res *DelegateResult
	v, err := r.update(r.load, func(t *tx) (err error) {
		res, err = r.delegate(t, kr, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Versions = *v
	return res, nil
}

// delegate changes the delegations as opts say and declares the writes.
func (r *Repository) delegate(t *tx, kr keys.Keyring, opts DelegateOptions) (*DelegateResult, error) {
	st := t.st
	tree, err := r.loadTree(st)
	if err != nil {
		return nil, err
	}
	top := &st.targets.Signed
	if top.Delegations == nil {
		top.Delegations = &metadata.Delegations{}
	}
	if top.Delegations.Keys == nil {
		top.Delegations.Keys = map[string]*metadata.Key{} // go-tuf panics on a nil map
	}
	if err := keys.CheckPublicKeys(top.Delegations.Keys); err != nil {
		return nil, storedErr(metadata.TARGETS, err)
	}
	// The online keys first: without them nothing happens, and no team
	// passphrase is asked for in vain.
	ss, err := gatherSigners(st, kr, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
	if err != nil {
		return nil, err
	}
	var res *DelegateResult
	var writes []roleWrite
	if opts.isBins() {
		res, writes, err = r.delegateBins(st, tree, kr, opts)
	} else {
		res, writes, err = r.delegateNamed(st, tree, kr, opts)
	}
	if err != nil {
		return nil, err
	}
	pruneKeys(top.Delegations)
	if len(top.Delegations.Roles) == 0 && top.Delegations.SuccinctRoles == nil && len(top.Delegations.UnrecognizedFields) == 0 {
		top.Delegations = nil
	}
	if !opts.isBins() {
		after, err := r.loadTree(st) // the new delegations, read afresh
		if err != nil {
			return nil, err
		}
		res.Warnings = append(res.Warnings, shadowWarnings(after)...)
	}

	for _, w := range writes {
		if res.RoleVersions == nil {
			res.RoleVersions = map[string]int64{}
		}
		res.RoleVersions[w.node.name] = t.writeRole(w.node, w.md, w.ss)
	}
	t.publish(ss, metadata.TARGETS)
	return res, nil
}

func (r *Repository) delegateNamed(st *state, tree *delegTree, kr keys.Keyring, opts DelegateOptions) (*DelegateResult, []roleWrite, error) {
	d := st.targets.Signed.Delegations
	if sr := tree.bins(); sr != nil {
		return nil, nil, fmt.Errorf("%w: targets delegates to hash bins (%s-*); TUF allows either named roles or hash bins in one delegations object", ErrDelegation, sr.NamePrefix)
	}
	res := &DelegateResult{Role: opts.Name}
	idx := slices.IndexFunc(d.Roles, func(dr metadata.DelegatedRole) bool { return dr.Name == opts.Name })
	if opts.Remove {
		if idx < 0 {
			return nil, nil, fmt.Errorf("%w: role %s is not delegated by targets%s", ErrDelegation, opts.Name, rolesHint(tree))
		}
		res.Removed = true
		dr := d.Roles[idx]
		res.Paths, res.KeyIDs, res.Threshold, res.Terminating = dr.Paths, dr.KeyIDs, dr.Threshold, dr.Terminating
		d.Roles = slices.Delete(d.Roles, idx, idx+1)
		if n := tree.nodes[opts.Name]; n != nil && n.ref != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s.json stays listed in the snapshot (clients refuse a snapshot that drops a role), so the name %s cannot be used again", opts.Name, opts.Name))
		}
		return res, nil, nil
	}
	if idx < 0 {
		if n := tree.nodes[opts.Name]; n != nil {
			return nil, nil, fmt.Errorf("%w: role %s is already delegated by %s", ErrDelegation, opts.Name, n.parent)
		}
		if mf := st.snapshot.Signed.Meta[opts.Name+".json"]; mf != nil {
			return nil, nil, fmt.Errorf("%w: the name %s was used before (the snapshot lists %s.json version %d, and clients refuse a snapshot that drops it): choose another name", ErrDelegation, opts.Name, opts.Name, mf.Version)
		}
		if len(opts.Paths) == 0 {
			return nil, nil, fmt.Errorf("%w: a new role needs path patterns (--path or --model)", ErrDelegation)
		}
		if len(opts.Keys) == 0 {
			return nil, nil, fmt.Errorf("%w: a new role needs at least one key (--key)", ErrDelegation)
		}
		d.Roles = append(d.Roles, metadata.DelegatedRole{Name: opts.Name, Threshold: 1})
		idx = len(d.Roles) - 1
		res.Created = true
	}
	dr := &d.Roles[idx]
	before := *dr
	before.KeyIDs = slices.Clone(dr.KeyIDs)
	if opts.Paths != nil {
		dr.Paths = dedupe(opts.Paths)
		dr.PathHashPrefixes = nil
	}
	if err := applyKeys(&dr.KeyIDs, d.Keys, opts); err != nil {
		return nil, nil, err
	}
	if opts.Threshold > 0 {
		dr.Threshold = opts.Threshold
	}
	if opts.Terminating != nil {
		dr.Terminating = *opts.Terminating
	}
	if err := checkThreshold(opts.Name, dr.Threshold, len(dr.KeyIDs)); err != nil {
		return nil, nil, err
	}
	res.Paths, res.KeyIDs, res.Threshold, res.Terminating = dr.Paths, dr.KeyIDs, dr.Threshold, dr.Terminating

	var writes []roleWrite
	node := tree.nodes[opts.Name]
	switch {
	case node == nil || node.md == nil:
		// No metadata yet: sign the first, empty version now if the role's
		// keys are at hand; otherwise its first publication does.
		if node == nil {
			node = &roleNode{name: opts.Name, parent: metadata.TARGETS, deleg: dr}
		}
		rs, err := signers(kr, opts.Name, &metadata.Role{KeyIDs: dr.KeyIDs, Threshold: dr.Threshold})
		switch {
		case errors.Is(err, ErrThreshold):
			res.Pending = true
			res.Warnings = append(res.Warnings, fmt.Sprintf("role %s has no metadata yet (its keys are not in the key directory): devices cannot resolve the paths delegated to it until it is signed: "+
				"mrepo add-target --role %s (its first model) or mrepo targets --role %s, with its keys", opts.Name, opts.Name, opts.Name))
		case err != nil:
			return nil, nil, err
		default:
			writes = append(writes, roleWrite{node: node, md: metadata.Targets(), ss: rs})
		}
	case !slices.Equal(before.KeyIDs, dr.KeyIDs) || before.Threshold != dr.Threshold:
		if err := st.targets.VerifyDelegate(opts.Name, node.md); err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("role %s: its current metadata (%s) is not signed by a threshold of its keys now, so devices refuse the targets it signs until they re-sign it: "+
				"review its targets (mrepo status), then mrepo targets --role %s --after-key-change, with the new keys", opts.Name, node.file, opts.Name))
		}
	}
	return res, writes, nil
}

func (r *Repository) delegateBins(st *state, tree *delegTree, kr keys.Keyring, opts DelegateOptions) (*DelegateResult, []roleWrite, error) {
	d := st.targets.Signed.Delegations
	if names := tree.namedRoles(); len(names) > 0 {
		return nil, nil, fmt.Errorf("%w: targets delegates to named roles (%s); TUF allows either named roles or hash bins in one delegations object", ErrDelegation, strings.Join(names, ", "))
	}
	res := &DelegateResult{NamePrefix: opts.NamePrefix, Terminating: true}
	sr := d.SuccinctRoles
	var before metadata.Role
	if sr == nil {
		if opts.Bins == 0 {
			return nil, nil, fmt.Errorf("%w: new hash bins need their number (--succinct-bins)", ErrDelegation)
		}
		if len(opts.Keys) == 0 {
			return nil, nil, fmt.Errorf("%w: hash bins need at least one key (--key)", ErrDelegation)
		}
		sr = &metadata.SuccinctRoles{BitLength: bits.TrailingZeros(uint(opts.Bins)), NamePrefix: opts.NamePrefix, Threshold: 1}
		for _, name := range sr.GetRoles() {
			if mf := st.snapshot.Signed.Meta[name+".json"]; mf != nil {
				return nil, nil, fmt.Errorf("%w: the name %s was used before (the snapshot lists it): choose another name prefix", ErrDelegation, name)
			}
		}
		res.Created = true
	} else {
		_, n := sr.GetSuffixLen()
		if opts.NamePrefix != sr.NamePrefix || (opts.Bins != 0 && opts.Bins != n) {
			return nil, nil, fmt.Errorf("%w: targets delegates to %d hash bins named %s-*; changing the number of bins or their names is not supported", ErrDelegation, n, sr.NamePrefix)
		}
		before = metadata.Role{KeyIDs: slices.Clone(sr.KeyIDs), Threshold: sr.Threshold}
		// The bins are re-signed below: only what their current keys signed.
		for _, name := range sr.GetRoles() {
			if node := tree.nodes[name]; node != nil && node.md != nil {
				if err := r.checkRoleSigned(tree, node); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	if err := applyKeys(&sr.KeyIDs, d.Keys, opts); err != nil {
		return nil, nil, err
	}
	if opts.Threshold > 0 {
		sr.Threshold = opts.Threshold
	}
	if err := checkThreshold(opts.NamePrefix+"-*", sr.Threshold, len(sr.KeyIDs)); err != nil {
		return nil, nil, err
	}
	d.SuccinctRoles, d.Roles = sr, nil
	_, n := sr.GetSuffixLen()
	res.Bins, res.KeyIDs, res.Threshold = n, sr.KeyIDs, sr.Threshold
	if !res.Created && slices.Equal(before.KeyIDs, sr.KeyIDs) && before.Threshold == sr.Threshold {
		return res, nil, nil
	}
	// New bins, or new keys: every bin is signed now, by the bins' keys,
	// which must therefore be at hand (a bin without metadata would break
	// every lookup that hashes to it).
	rs, err := signers(kr, opts.NamePrefix+"-*", &metadata.Role{KeyIDs: sr.KeyIDs, Threshold: sr.Threshold})
	if err != nil {
		return nil, nil, err
	}
	var writes []roleWrite
	for _, name := range sr.GetRoles() {
		node := tree.nodes[name]
		if node == nil {
			node = &roleNode{name: name, parent: metadata.TARGETS, bins: sr}
		}
		md := node.md
		if md == nil {
			md = metadata.Targets()
		}
		writes = append(writes, roleWrite{node: node, md: md, ss: rs})
	}
	return res, writes, nil
}

// shadowWarnings names the roles that list targets they are delegated but
// that clients no longer find there: an earlier delegation is terminating
// for them, or an earlier role lists the same path.
func shadowWarnings(t *delegTree) []string {
	var out []string
	for _, name := range t.order {
		n := t.nodes[name]
		if n.md == nil {
			continue
		}
		var lost []string
		for _, p := range sortedKeys(n.md.Signed.Targets) {
			if res := t.resolve(p); n.delegates(p) && res.role != name && res.blocked == "" {
				lost = append(lost, p)
			}
		}
		if len(lost) > 0 {
			out = append(out, fmt.Sprintf("role %s lists %d target(s) that devices do not find there, for example %s: an earlier delegation is terminating for them, or an earlier role lists the same path", name, len(lost), lost[0]))
		}
	}
	return out
}

// applyKeys updates a role's key IDs as opts say, adding new keys to the
// delegations' key map.
func applyKeys(ids *[]string, all map[string]*metadata.Key, opts DelegateOptions) error {
	if opts.ReplaceKeys {
		*ids = nil
	}
	for _, k := range opts.Keys {
		if err := keys.CheckPublic(k); err != nil {
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
	var found []string
	for _, id := range ids {
		if id == s || (len(s) >= 8 && strings.HasPrefix(id, s)) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		short := make([]string, len(ids))
		for i, id := range ids {
			short[i] = keys.ShortID(id)
		}
		return "", fmt.Errorf("%w: the role has no key %s (its keys: %s; give the whole ID or at least 8 hex digits)", ErrDelegation, s, strings.Join(short, ", "))
	}
	return "", fmt.Errorf("%w: key ID prefix %s is ambiguous", ErrDelegation, s)
}

func checkThreshold(role string, threshold, nkeys int) error {
	if nkeys == 0 {
		return fmt.Errorf("%w: role %s would have no key", ErrDelegation, role)
	}
	if threshold < 1 || threshold > nkeys {
		return fmt.Errorf("%w: role %s: threshold %d with %d key(s); it must be between 1 and the number of keys", ErrDelegation, role, threshold, nkeys)
	}
	return nil
}

// pruneKeys removes keys that no delegation uses any more.
func pruneKeys(d *metadata.Delegations) {
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

func dedupe(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func rolesHint(tree *delegTree) string {
	if names := tree.namedRoles(); len(names) > 0 {
		return " (delegated roles: " + strings.Join(names, ", ") + ")"
	}
	return " (it delegates to no role; see mrepo delegate)"
}

// checkRoleSigned fails unless a delegated role's current metadata is
// signed by a threshold of the keys its delegation names now: mrepo never
// re-signs (and so launders) what the role's keys did not sign.
func (r *Repository) checkRoleSigned(tree *delegTree, n *roleNode) error {
	parent := tree.meta(n.parent)
	if parent == nil || parent.Signed.Delegations == nil {
		return storedErr(n.file, fmt.Errorf("its delegator %s has no metadata", n.parent))
	}
	if err := keys.CheckPublicKeys(parent.Signed.Delegations.Keys); err != nil {
		return storedErr(n.parent, err)
	}
	if err := parent.VerifyDelegate(n.name, n.md); err != nil {
		role := n.name
		if n.bins != nil {
			role = n.bins.NamePrefix
		}
		return fmt.Errorf("%w: %s: %v (if the role's keys were replaced on purpose, review its targets, then have its new keys re-sign it: mrepo targets --role %s --after-key-change)",
			ErrStoredMetadata, n.file, err, role)
	}
	return nil
}

// ResignOptions tune ResignRole.
type ResignOptions struct {
	// AfterKeyChange accepts current role metadata that its keys no longer
	// sign (after Delegate replaced them): the bytes must still be those
	// the signed snapshot records. Review the role's targets first.
	AfterKeyChange bool
}

// ResignResult reports the delegated roles ResignRole signed.
type ResignResult struct {
	Roles    map[string]int64 `json:"roles"`
	Versions Versions         `json:"metadata_versions"`
	Warnings []string         `json:"warnings,omitempty"`
}

// ResignRole signs a new version of a delegated role, with the same
// targets and a fresh expiry, with the role's own keys from kr, then a new
// snapshot and timestamp (the targets key is not needed). A role without
// metadata yet gets its first, empty version. name may also be the name
// prefix of hash bins, which re-signs every bin.
func (r *Repository) ResignRole(name string, kr keys.Keyring, opts ResignOptions) (*ResignResult, error) {
	res := &ResignResult{Roles: map[string]int64{}}
	v, err := r.update(r.load, func(t *tx) error { return r.resignRole(t, name, kr, opts, res) })
	if err != nil {
		return nil, err
	}
	res.Versions = *v
	return res, nil
}

func (r *Repository) resignRole(t *tx, name string, kr keys.Keyring, opts ResignOptions, res *ResignResult) error {
	st := t.st
	tree, err := r.loadTree(st)
	if err != nil {
		return err
	}
	var nodes []*roleNode
	if sr := tree.bins(); sr != nil && name == sr.NamePrefix {
		for _, b := range sr.GetRoles() {
			if n := tree.nodes[b]; n != nil {
				nodes = append(nodes, n)
			}
		}
	} else if n := tree.nodes[name]; n != nil {
		nodes = append(nodes, n)
	}
	if len(nodes) == 0 {
		hint := rolesHint(tree)
		if sr := tree.bins(); sr != nil {
			hint = fmt.Sprintf(" (hash bins: --role %s re-signs them all)", sr.NamePrefix)
		}
		return fmt.Errorf("%w: %s is not a delegated role%s", ErrDelegation, name, hint)
	}
	for _, n := range nodes {
		if n.md == nil {
			continue
		}
		if err := r.checkRoleSigned(tree, n); err != nil {
			if !opts.AfterKeyChange || !errors.Is(err, ErrStoredMetadata) {
				return err
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s was not signed by a threshold of the role's current keys; re-signed as published (after a key change)", n.file))
		}
	}
	rs, err := signers(kr, name, nodes[0].role())
	if err != nil {
		return err
	}
	ss, err := gatherSigners(st, kr, metadata.SNAPSHOT, metadata.TIMESTAMP)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		md := n.md
		if md == nil {
			md = metadata.Targets()
		}
		res.Roles[n.name] = t.writeRole(n, md, rs)
	}
	t.publish(ss, metadata.SNAPSHOT)
	return nil
}
