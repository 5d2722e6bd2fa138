package rootkeys

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ErrRotation: the requested key change is not valid.
var ErrRotation = errors.New("invalid rotation")

// Change is a change of one top-level role's keys or threshold.
type Change struct {
	// Role is root, targets, snapshot or timestamp; cur must have it.
	Role string
	// AddKeys are public keys to add to the role.
	AddKeys []*metadata.Key
	// RemoveKeys are key IDs (or unique prefixes of at least 8 hex
	// digits) to remove from the role.
	RemoveKeys []string
	// Threshold is the role's new threshold; 0 keeps the current one.
	Threshold int
}

// SigningOrder lists the root keys of old and then the new ones of nr:
// the order in which holders are asked for their passphrases.
func SigningOrder(old, nr *metadata.Metadata[metadata.RootType]) []string {
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

// Next returns root N+1: cur with c applied, a new version, the given
// expiry and no signatures. Keys no role uses any more are dropped. cur
// must have c.Role (the caller reports a root without it as damaged).
func Next(cur *metadata.Metadata[metadata.RootType], c Change, expires time.Time) (*metadata.Metadata[metadata.RootType], error) {
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
	role := nr.Signed.Roles[c.Role]
	if role == nil {
		return nil, fmt.Errorf("root v%d has no %s role", cur.Signed.Version, c.Role)
	}
	for _, rm := range c.RemoveKeys {
		id, err := resolveKeyID(role.KeyIDs, rm, c.Role)
		if err != nil {
			return nil, err
		}
		role.KeyIDs = slices.DeleteFunc(role.KeyIDs, func(x string) bool { return x == id })
	}
	for _, k := range c.AddKeys {
		if err := pubkey.Check(k); err != nil {
			return nil, fmt.Errorf("%w: key to add: %v", ErrRotation, err)
		}
		id, err := k.ID()
		if err != nil {
			return nil, err
		}
		if slices.Contains(role.KeyIDs, id) {
			return nil, fmt.Errorf("%w: key %s is already a %s key", ErrRotation, pubkey.ShortID(id), c.Role)
		}
		for _, other := range repofiles.TopLevelRoles {
			if o := nr.Signed.Roles[other]; other != c.Role && o != nil && slices.Contains(o.KeyIDs, id) {
				return nil, fmt.Errorf("%w: key %s is a %s key: give each role keys of its own", ErrRotation, pubkey.ShortID(id), other)
			}
		}
		nr.Signed.Keys[id] = k
		role.KeyIDs = append(role.KeyIDs, id)
	}
	if c.Threshold < 0 {
		return nil, fmt.Errorf("%w: threshold %d", ErrRotation, c.Threshold)
	}
	if c.Threshold > 0 {
		role.Threshold = c.Threshold
	}
	if len(role.KeyIDs) == 0 {
		return nil, fmt.Errorf("%w: %s would have no key left: add its new key in the same rotation", ErrRotation, c.Role)
	}
	if role.Threshold > len(role.KeyIDs) {
		return nil, fmt.Errorf("%w: %s threshold %d is more than its %d key(s)", ErrRotation, c.Role, role.Threshold, len(role.KeyIDs))
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
	found := pubkey.Matching(ids, s)
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("%w: key %s is not a %s key (its keys: %s)", ErrRotation, pubkey.ShortID(s), role, strings.Join(pubkey.ShortIDs(ids), ", "))
	}
	return "", fmt.Errorf("%w: key ID %s is ambiguous among the %s keys", ErrRotation, s, role)
}
