package repo

import (
	"fmt"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// outside reports whether a role lists a target path it is not delegated,
// so that clients never resolve it there: a path outside a named role's
// patterns, or a path that hashes to another bin than the hash bin that
// lists it. (Classic path_hash_prefixes delegations are not checked: go-tuf
// v2.4.2 matches them against the base64 form of the hash, and its client,
// which Verify runs last, reports what it cannot find.)
func (r verifiedRole) outside(p string) bool {
	switch {
	case r.bins != nil:
		rs := r.bins.GetRolesForTarget(p)
		return len(rs) != 1 || rs[0].Name != r.name
	case r.delegation != nil && r.delegation.Paths != nil:
		ok, _ := r.delegation.IsDelegatedPath(p)
		return !ok
	}
	return false
}

// pendingHint explains a delegated role missing from the snapshot.
func pendingHint(name string) string {
	if name == metadata.TARGETS {
		return ""
	}
	return fmt.Sprintf(": the role has no published metadata, so clients cannot resolve the paths delegated to it (sign it: mrepo add-target --role %s, or mrepo targets --role %s)", name, name)
}
