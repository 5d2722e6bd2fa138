package repo

import (
	"github.com/edgetuf/edgetuf/internal/rolesign"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Who signs what is package rolesign's: a role's signers from a keyring
// (signers), signing (signRole), the signers of top-level roles
// (gatherSigners).
type (
	keySigner   = rolesign.Signer
	roleSigners = rolesign.Set
)

var signers = rolesign.For

func signRole[T metadata.Roles](md *metadata.Metadata[T], ss []keySigner) error {
	return rolesign.Sign(md, ss)
}

// gatherSigners loads signers for the given roles before any work is done,
// so a missing key or wrong passphrase fails fast and changes nothing.
func gatherSigners(st *state, kr keys.Keyring, roles ...string) (roleSigners, error) {
	return rolesign.Gather(st.root, kr, roles...)
}

// Versions reports the metadata versions a publication produced.
type Versions struct {
	Targets   int64 `json:"targets"`
	Snapshot  int64 `json:"snapshot"`
	Timestamp int64 `json:"timestamp"`
}

// Timestamp re-signs the timestamp with a fresh expiry, as a cron job does.
func (r *Repository) Timestamp(kr keys.Keyring) (*Versions, error) {
	return r.resign(kr, metadata.TIMESTAMP)
}

// Snapshot re-signs the snapshot (and so the timestamp) with fresh expiries.
func (r *Repository) Snapshot(kr keys.Keyring) (*Versions, error) {
	return r.resign(kr, metadata.SNAPSHOT)
}

// Targets re-signs the targets metadata, unchanged but with a fresh expiry,
// and then snapshot and timestamp. Publishing does this too; a repository
// that publishes less often than its targets lifetime needs it from cron.
func (r *Repository) Targets(kr keys.Keyring) (*Versions, error) {
	return r.resign(kr, metadata.TARGETS)
}

// resign re-signs role and every role above it in the chain that a client
// follows (targets -> snapshot -> timestamp).
func (r *Repository) resign(kr keys.Keyring, role string) (*Versions, error) {
	return r.update(r.load, func(t *tx) error {
		roles := []string{metadata.TIMESTAMP}
		if role == metadata.SNAPSHOT || role == metadata.TARGETS {
			roles = append(roles, metadata.SNAPSHOT)
		}
		if role == metadata.TARGETS {
			roles = append(roles, metadata.TARGETS)
		}
		ss, err := gatherSigners(t.st, kr, roles...)
		if err != nil {
			return err
		}
		t.publish(ss, role)
		return nil
	})
}
