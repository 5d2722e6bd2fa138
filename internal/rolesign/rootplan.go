package rolesign

import (
	"errors"
	"fmt"
	"slices"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/rootkeys"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// RootPlan is what publishing a root N+1 re-signs, with the signers
// gathered beforehand.
type RootPlan struct {
	Signers     Set
	NewTargets  bool
	NewSnapshot bool
	NewTS       bool
	Warnings    []string
}

// Roles lists the roles the plan re-signs, bottom up.
func (p *RootPlan) Roles() []string {
	out := []string{}
	if p.NewTargets {
		out = append(out, metadata.TARGETS)
	}
	if p.NewSnapshot {
		out = append(out, metadata.SNAPSHOT)
	}
	if p.NewTS {
		out = append(out, metadata.TIMESTAMP)
	}
	return out
}

// PlanRoot decides which online roles publishing nr re-signs: those whose
// keys or threshold differ from old (nil: not compared), those whose
// current metadata (current returns it by role) does not verify under
// nr, and the roles above them. It gathers their signers from kr: the new
// keys, which must meet nr's thresholds, and the old keys of old that kr
// also holds, so that each re-signed file also verifies under old until
// nr is written.
func PlanRoot(current func(role string) any, old, nr *metadata.Metadata[metadata.RootType], kr keys.Keyring) (*RootPlan, error) {
	if kr == nil {
		kr = keys.MemKeyring{}
	}
	need := map[string]bool{}
	for _, role := range OnlineRoles {
		nrole := nr.Signed.Roles[role]
		if nrole == nil {
			return nil, fmt.Errorf("%w: root v%d has no %s role", rootkeys.ErrRotation, nr.Signed.Version, role)
		}
		if old != nil {
			orole := old.Signed.Roles[role]
			if orole == nil || !staged.SameRole(orole, nrole) || !staged.SameKeys(old.Signed.Keys, nr.Signed.Keys, nrole.KeyIDs) {
				need[role] = true
			}
		}
		if nr.VerifyDelegate(role, current(role)) != nil {
			need[role] = true
		}
	}
	p := &RootPlan{Signers: Set{}}
	p.NewTargets = need[metadata.TARGETS]
	p.NewSnapshot = p.NewTargets || need[metadata.SNAPSHOT]
	p.NewTS = p.NewSnapshot || need[metadata.TIMESTAMP]
	for _, role := range p.Roles() {
		ss, err := For(kr, role, nr.Signed.Roles[role])
		if err != nil {
			return nil, err
		}
		if old != nil {
			ss, p.Warnings = addOldSigners(ss, kr, role, old, nr, p.Warnings)
		}
		p.Signers[role] = ss
	}
	return p, nil
}

// addOldSigners adds to ss the keys of role in old that kr holds, and
// warns when they cannot meet old's threshold: the re-signed file then
// does not verify under old until nr is written.
func addOldSigners(ss []Signer, kr keys.Keyring, role string, old, nr *metadata.Metadata[metadata.RootType], warnings []string) ([]Signer, []string) {
	orole := old.Signed.Roles[role]
	if orole == nil {
		return ss, warnings
	}
	valid := 0
	for _, id := range orole.KeyIDs {
		if slices.ContainsFunc(ss, func(k Signer) bool { return k.ID == id }) {
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
		ss = append(ss, Signer{ID: id, Signer: s})
		valid++
	}
	if valid < orole.Threshold {
		warnings = append(warnings, fmt.Sprintf("the old %s keys at hand (%d, threshold %d) cannot sign the new %s: devices that refresh between the %s write and root v%d's reject it once and recover on their next refresh",
			role, valid, orole.Threshold, role, role, nr.Signed.Version))
	}
	return ss, warnings
}
