package staged

import (
	"fmt"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// CheckPublishable checks, before the repository publishes it, staged
// targets, snapshot or timestamp metadata sm (read from path): it must be
// the version after current, not expired at now, and signed by a
// threshold of root's keys for its role (ErrThreshold names the missing
// ones); signatures by keys that may not sign it are then dropped. It
// returns the signatures' status.
func CheckPublishable(sm *File, path string, current int64, now time.Time, root *metadata.Metadata[metadata.RootType]) (*SignatureStatus, error) {
	if sm.Version() != current+1 {
		return nil, fmt.Errorf("%w: staged %s v%d is stale: the repository's %s is v%d; remove %s and stage again", ErrConflict, sm.Role, sm.Version(), sm.Role, current, path)
	}
	if !sm.Expires().After(now) {
		return nil, fmt.Errorf("%w: staged %s v%d expired at %s; remove %s and stage again", ErrConflict, sm.Role, sm.Version(), sm.Expires().UTC().Format(time.RFC3339), path)
	}
	status := CheckSignatures(sm, root)
	if err := status.Err(); err != nil {
		return nil, err
	}
	if err := Verify(sm, root); err != nil {
		return nil, err
	}
	return status, CleanSignatures(sm, EligibleKeys(sm, root))
}
