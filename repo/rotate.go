package repo

// Key rotation: every change of a top-level role's keys or threshold is a
// new root version N+1, which a threshold of root N's root keys and a
// threshold of its own must sign. Devices walk the chain 2.root.json,
// 3.root.json, ... from the root they trust, so one that was offline
// through several rotations still updates.
//
// Publishing root N+1 also re-signs what it invalidates: the roles whose
// keys or threshold changed, and every role above them in the chain that
// clients follow (targets -> snapshot -> timestamp), as new versions.
// Write order (see docs/rotation.md):
//
//  1. staged/root.json, the signed root N+1 (a journal: a crash after it
//     is completed by PublishStaged);
//  2. the re-signed N.targets.json and N.snapshot.json (new files), then
//     timestamp.json. Each is signed by the new keys and also by the old
//     keys at hand, so that it verifies under root N and under root N+1;
//  3. N+1.root.json;
//  4. staged/root.json is removed.
//
// With the old keys at hand, clients and mrepo verify see a valid
// repository after every step. Without them (a lost key), clients that
// refresh between steps 2 and 3 reject the timestamp once and recover on
// their next refresh; a crash there is completed by PublishStaged.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ErrRotation: the requested key change is not valid.
var ErrRotation = errors.New("invalid rotation")

// RotateOptions describe a change of one top-level role's keys.
type RotateOptions struct {
	// Role is root, targets, snapshot or timestamp.
	Role string
	// AddKeys are public keys to add to the role.
	AddKeys []*metadata.Key
	// RemoveKeys are key IDs (or unique prefixes of at least 8 hex
	// digits) to remove from the role.
	RemoveKeys []string
	// Threshold is the role's new threshold; 0 keeps the current one.
	Threshold int
	// Stage only stages the new root (signed by the keys at hand), even if
	// those keys meet both thresholds.
	Stage bool
}

// RotateResult reports a rotation: published, or staged for more
// signatures.
type RotateResult struct {
	Role        string   `json:"role"`
	RootVersion int64    `json:"root_version"`
	Changes     []string `json:"changes"`
	// KeyIDs and Threshold are the role's keys and threshold in the new root.
	KeyIDs     []string                `json:"keyids"`
	Threshold  int                     `json:"threshold"`
	Signatures *staged.SignatureStatus `json:"signatures"`
	Published  bool                    `json:"published"`
	// Resigned lists the roles re-signed with the new keys (as new
	// versions, in Versions) when the root was published.
	Resigned []string  `json:"resigned"`
	Versions *Versions `json:"metadata_versions,omitempty"`
	// Staged is set when the root was staged rather than published.
	Staged   *StageResult `json:"staged,omitempty"`
	Warnings []string     `json:"warnings"`
}

// Rotate builds root N+1 with opts' changes to one role and a fresh root
// expiry, and signs it with every root key of root N and N+1 that kr holds
// (kr may be nil: nothing is signed). If both thresholds are met (and not
// opts.Stage), it publishes root N+1 and re-signs the roles it
// invalidates, which needs their new keys in kr; otherwise it stages root
// N+1 in DIR/staged/root.json for the remaining holders to sign.
func (r *Repository) Rotate(kr keys.Keyring, opts RotateOptions) (*RotateResult, error) {
	if err := staged.CheckTopLevelRole(opts.Role); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRotation, err)
	}
	// Root N+1 is built and signed before the writer lock is taken: at a
	// ceremony, holders typing passphrases may take longer than other
	// writers (cron) wait for the lock. Under the lock, the root must
	// still be the one that was signed over.
	st0, err := r.load()
	if err != nil {
		return nil, err
	}
	if err := r.checkNotStaged(metadata.ROOT); err != nil {
		return nil, err
	}
	nr, err := rotatedRoot(st0.root, opts, r.expires(metadata.ROOT))
	if err != nil {
		return nil, err
	}
	sm := &staged.File{Role: metadata.ROOT, Root: nr}
	role := nr.Signed.Roles[opts.Role]
	res := &RotateResult{Role: opts.Role, RootVersion: nr.Signed.Version, Changes: staged.RootChanges(st0.root, nr),
		KeyIDs: role.KeyIDs, Threshold: role.Threshold, Resigned: []string{}, Warnings: []string{}}
	if res.Changes == nil {
		res.Changes = []string{}
	}
	if kr != nil {
		for _, id := range rootKeyOrder(st0.root, nr) {
			s, err := kr.Signer(id)
			if errors.Is(err, keys.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if err := sm.Sign(id, s); err != nil {
				return nil, err
			}
		}
	}
	v, err := r.update(r.load, func(t *tx) error { return r.rotate(t, st0, sm, kr, opts, res) })
	if err != nil {
		return nil, err
	}
	if res.Published {
		res.Versions = v
	}
	return res, nil
}

// rotate publishes root N+1 (sm) if its signatures meet both thresholds,
// or stages it.
func (r *Repository) rotate(t *tx, st0 *state, sm *staged.File, kr keys.Keyring, opts RotateOptions, res *RotateResult) error {
	st, nr := t.st, sm.Root
	if st.root.Signed.Version != st0.root.Signed.Version || !sameSigned(st.root.Signed, st0.root.Signed) {
		return fmt.Errorf("%w: root v%d was published while the keys were opened: run the rotation again", ErrStaged, st.root.Signed.Version)
	}
	if err := r.checkNotStaged(metadata.ROOT); err != nil {
		return err
	}
	res.Signatures = staged.CheckSignatures(sm, st.root)
	if res.Signatures.Met && !opts.Stage {
		if err := staged.Verify(sm, st.root); err != nil {
			return err
		}
		plan, err := r.planRoot(st, st.root, nr, kr)
		switch {
		case err == nil:
			if err := staged.CleanSignatures(sm, staged.EligibleKeys(sm, st.root)); err != nil {
				return err
			}
			// The journal first: a crash from here on is completed by
			// PublishStaged.
			t.writeStaged(sm)
			applyRoot(t, nr, plan, true)
			res.Published, res.Resigned = true, plan.roles()
			res.Warnings = append(res.Warnings, plan.warnings...)
			return nil
		case errors.Is(err, ErrThreshold):
			res.Warnings = append(res.Warnings, fmt.Sprintf("root v%d is signed but not published: %v; publish it with mrepo publish-staged --role root where those keys are", nr.Signed.Version, err))
		default:
			return err
		}
	}
	t.writeStaged(sm)
	res.Staged = &StageResult{Role: metadata.ROOT, Version: nr.Signed.Version, Expires: nr.Signed.Expires, File: StagedPath(r.dir, metadata.ROOT), Summary: staged.Describe(sm, st.root), Signatures: res.Signatures}
	return nil
}

// rootKeyOrder lists the root keys of old and then the new ones of nr:
// the order in which holders are asked for their passphrases.
func rootKeyOrder(old, nr *metadata.Metadata[metadata.RootType]) []string {
	var out []string
	for _, r := range []*metadata.Metadata[metadata.RootType]{old, nr} {
		if role := r.Signed.Roles[metadata.ROOT]; role != nil {
			for _, id := range role.KeyIDs {
				if !slices.Contains(out, id) {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// rotatedRoot returns root N+1: cur with opts' changes, a new version, a
// fresh expiry and no signatures. Keys no role uses any more are dropped.
func rotatedRoot(cur *metadata.Metadata[metadata.RootType], opts RotateOptions, expires time.Time) (*metadata.Metadata[metadata.RootType], error) {
	data, err := cur.ToBytes(false)
	if err != nil {
		return nil, err
	}
	nr, err := metadata.Root().FromBytes(data)
	if err != nil {
		return nil, err
	}
	nr.Signatures = []metadata.Signature{}
	nr.Signed.Version++
	nr.Signed.Expires = expires
	role := nr.Signed.Roles[opts.Role]
	if role == nil {
		return nil, storedErr("root", fmt.Errorf("no %s role", opts.Role))
	}
	for _, rm := range opts.RemoveKeys {
		id, err := resolveKeyID(role.KeyIDs, rm, opts.Role)
		if err != nil {
			return nil, err
		}
		role.KeyIDs = slices.DeleteFunc(role.KeyIDs, func(x string) bool { return x == id })
	}
	for _, k := range opts.AddKeys {
		if err := keys.CheckPublic(k); err != nil {
			return nil, fmt.Errorf("%w: key to add: %v", ErrRotation, err)
		}
		id, err := k.ID()
		if err != nil {
			return nil, err
		}
		if slices.Contains(role.KeyIDs, id) {
			return nil, fmt.Errorf("%w: key %s is already a %s key", ErrRotation, keys.ShortID(id), opts.Role)
		}
		for _, other := range staged.TopLevelRoles {
			if o := nr.Signed.Roles[other]; other != opts.Role && o != nil && slices.Contains(o.KeyIDs, id) {
				return nil, fmt.Errorf("%w: key %s is a %s key: give each role keys of its own", ErrRotation, keys.ShortID(id), other)
			}
		}
		nr.Signed.Keys[id] = k
		role.KeyIDs = append(role.KeyIDs, id)
	}
	if opts.Threshold < 0 {
		return nil, fmt.Errorf("%w: threshold %d", ErrRotation, opts.Threshold)
	}
	if opts.Threshold > 0 {
		role.Threshold = opts.Threshold
	}
	if len(role.KeyIDs) == 0 {
		return nil, fmt.Errorf("%w: %s would have no key left: add its new key in the same rotation", ErrRotation, opts.Role)
	}
	if role.Threshold > len(role.KeyIDs) {
		return nil, fmt.Errorf("%w: %s threshold %d is more than its %d key(s)", ErrRotation, opts.Role, role.Threshold, len(role.KeyIDs))
	}
	used := map[string]bool{}
	for _, rl := range nr.Signed.Roles {
		for _, id := range rl.KeyIDs {
			used[id] = true
		}
	}
	for id := range nr.Signed.Keys {
		if !used[id] {
			delete(nr.Signed.Keys, id)
		}
	}
	return nr, nil
}

// resolveKeyID finds the key of ids that s names: a full key ID or a
// unique prefix of at least 8 hex digits.
func resolveKeyID(ids []string, s, role string) (string, error) {
	s = strings.ToLower(s)
	if len(s) < 8 {
		return "", fmt.Errorf("%w: key ID %q: give at least 8 hex digits", ErrRotation, s)
	}
	var found []string
	for _, id := range ids {
		if strings.HasPrefix(id, s) {
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
		return "", fmt.Errorf("%w: key %s is not a %s key (its keys: %s)", ErrRotation, keys.ShortID(s), role, strings.Join(short, ", "))
	}
	return "", fmt.Errorf("%w: key ID %s is ambiguous among the %s keys", ErrRotation, s, role)
}

// rootPlan is what publishing a root N+1 re-signs, with the signers
// gathered beforehand.
type rootPlan struct {
	ss          roleSigners
	newTargets  bool
	newSnapshot bool
	newTS       bool
	warnings    []string
}

func (p *rootPlan) roles() []string {
	out := []string{}
	if p.newTargets {
		out = append(out, metadata.TARGETS)
	}
	if p.newSnapshot {
		out = append(out, metadata.SNAPSHOT)
	}
	if p.newTS {
		out = append(out, metadata.TIMESTAMP)
	}
	return out
}

func (st *state) roleMD(role string) any {
	switch role {
	case metadata.TARGETS:
		return st.targets
	case metadata.SNAPSHOT:
		return st.snapshot
	}
	return st.timestamp
}

// planRoot decides which online roles publishing nr re-signs: those whose
// keys or threshold differ from old (nil: not compared), those whose
// current metadata does not verify under nr, and the roles above them.
// It gathers their signers from kr: the new keys, which must meet nr's
// thresholds, and the old keys of old that kr also holds, so that each
// re-signed file also verifies under old until nr is written.
func (r *Repository) planRoot(st *state, old, nr *metadata.Metadata[metadata.RootType], kr keys.Keyring) (*rootPlan, error) {
	if kr == nil {
		kr = keys.MemKeyring{}
	}
	need := map[string]bool{}
	for _, role := range onlineRoles {
		nrole := nr.Signed.Roles[role]
		if nrole == nil {
			return nil, fmt.Errorf("%w: root v%d has no %s role", ErrRotation, nr.Signed.Version, role)
		}
		if old != nil {
			orole := old.Signed.Roles[role]
			if orole == nil || !staged.SameRole(orole, nrole) || !staged.SameKeys(old.Signed.Keys, nr.Signed.Keys, nrole.KeyIDs) {
				need[role] = true
			}
		}
		if nr.VerifyDelegate(role, st.roleMD(role)) != nil {
			need[role] = true
		}
	}
	p := &rootPlan{ss: roleSigners{}}
	p.newTargets = need[metadata.TARGETS]
	p.newSnapshot = p.newTargets || need[metadata.SNAPSHOT]
	p.newTS = p.newSnapshot || need[metadata.TIMESTAMP]
	for _, role := range p.roles() {
		ss, err := signers(kr, role, nr.Signed.Roles[role])
		if err != nil {
			return nil, err
		}
		if old != nil {
			ss, p.warnings = addOldSigners(ss, kr, role, old, nr, p.warnings)
		}
		p.ss[role] = ss
	}
	return p, nil
}

// addOldSigners adds to ss the keys of role in old that kr holds, and
// warns when they cannot meet old's threshold: the re-signed file then
// does not verify under old until nr is written.
func addOldSigners(ss []keySigner, kr keys.Keyring, role string, old, nr *metadata.Metadata[metadata.RootType], warnings []string) ([]keySigner, []string) {
	orole := old.Signed.Roles[role]
	if orole == nil {
		return ss, warnings
	}
	valid := 0
	for _, id := range orole.KeyIDs {
		if slices.ContainsFunc(ss, func(k keySigner) bool { return k.id == id }) {
			valid++
			continue
		}
		s, err := kr.Signer(id)
		if err != nil {
			if !errors.Is(err, keys.ErrKeyNotFound) {
				warnings = append(warnings, fmt.Sprintf("old %s key %s not used: %v", role, keys.ShortID(id), err))
			}
			continue
		}
		ss = append(ss, keySigner{id: id, s: s})
		valid++
	}
	if valid < orole.Threshold {
		warnings = append(warnings, fmt.Sprintf("the old %s keys at hand (%d, threshold %d) cannot sign the new %s: devices that refresh between the %s write and root v%d's reject it once and recover on their next refresh",
			role, valid, orole.Threshold, role, role, nr.Signed.Version))
	}
	return ss, warnings
}

// applyRoot declares what plan re-signs, then nr as N+1.root.json unless
// it is already published (writeRoot false), then the journal's removal.
func applyRoot(t *tx, nr *metadata.Metadata[metadata.RootType], plan *rootPlan, writeRoot bool) {
	if plan.newTS {
		t.publish(plan.ss, plan.roles()...)
	}
	if writeRoot {
		t.writeRoot(nr)
	}
	t.removeStaged(metadata.ROOT)
}

// rotationHint explains, for a role that no longer verifies, that a
// staged root is probably half-published.
func (r *Repository) rotationHint() string {
	if _, err := r.fs.Stat(StagedPath(r.dir, metadata.ROOT)); err != nil {
		return ""
	}
	return " (a root rotation is staged and may have been interrupted: run mrepo publish-staged --role root to complete it)"
}

// checkRootLink checks that the newest root is signed by a threshold of
// the root keys of the version before it, as clients require: a root
// version written by hand that breaks the chain is never built upon.
func (r *Repository) checkRootLink(root *metadata.Metadata[metadata.RootType]) error {
	v := root.Signed.Version
	if v <= 1 {
		return nil
	}
	name := fmt.Sprintf("%d.root.json", v-1)
	data, err := readBounded(r.fs, r.metaPath(name), maxMetadataSize)
	if err != nil {
		return storedErr(name, err)
	}
	prev, err := metadata.Root().FromBytes(data)
	if err != nil {
		return storedErr(name, err)
	}
	if err := checkKeys(prev.Signed.Keys); err != nil {
		return storedErr(name, err)
	}
	if err := prev.VerifyDelegate(metadata.ROOT, root); err != nil {
		return storedErr(fmt.Sprintf("%d.root.json", v), fmt.Errorf("not signed by a threshold of root v%d's root keys: %v", v-1, err))
	}
	return nil
}
