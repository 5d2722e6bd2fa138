package repo

import (
	"fmt"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// roleSigners holds the signers gathered for each role about to be signed.
type roleSigners map[string][]keySigner

// gatherSigners loads signers for the given roles before any work is done,
// so a missing key or wrong passphrase fails fast and changes nothing.
func gatherSigners(st *state, kr keys.Keyring, roles ...string) (roleSigners, error) {
	out := roleSigners{}
	for _, name := range roles {
		role, err := roleOf(st.root, name)
		if err != nil {
			return nil, err
		}
		ss, err := signers(kr, name, role)
		if err != nil {
			return nil, err
		}
		out[name] = ss
	}
	return out, nil
}

// Versions reports the metadata versions a publication produced.
type Versions struct {
	Targets   int64 `json:"targets"`
	Snapshot  int64 `json:"snapshot"`
	Timestamp int64 `json:"timestamp"`
}

// publish signs and writes, in this order, new targets metadata (when
// newTargets), new snapshot metadata (when newSnapshot) and a new
// timestamp. Each is a new file except timestamp.json, which is replaced
// last and atomically: that rename is the instant the new repository
// becomes visible, so a crash at any earlier point leaves the previous
// repository intact.
func (r *Repository) publish(st *state, ss roleSigners, newTargets, newSnapshot bool) (*Versions, error) {
	if newTargets {
		newSnapshot = true
		t := &st.targets.Signed
		t.Version++
		t.Expires = r.expires(metadata.TARGETS)
		if err := signRole(st.targets, ss[metadata.TARGETS]); err != nil {
			return nil, err
		}
		mf, err := r.writeMeta(fmt.Sprintf("%d.targets.json", t.Version), st.targets)
		if err != nil {
			return nil, err
		}
		mf.Version = t.Version
		st.snapshot.Signed.Meta["targets.json"] = mf
	}
	if newSnapshot {
		s := &st.snapshot.Signed
		s.Version++
		s.Expires = r.expires(metadata.SNAPSHOT)
		if err := signRole(st.snapshot, ss[metadata.SNAPSHOT]); err != nil {
			return nil, err
		}
		mf, err := r.writeMeta(fmt.Sprintf("%d.snapshot.json", s.Version), st.snapshot)
		if err != nil {
			return nil, err
		}
		mf.Version = s.Version
		st.timestamp.Signed.Meta["snapshot.json"] = mf
	}
	ts := &st.timestamp.Signed
	ts.Version++
	ts.Expires = r.expires(metadata.TIMESTAMP)
	if err := signRole(st.timestamp, ss[metadata.TIMESTAMP]); err != nil {
		return nil, err
	}
	if _, err := r.writeMeta("timestamp.json", st.timestamp); err != nil {
		return nil, err
	}
	return &Versions{Targets: st.targets.Signed.Version, Snapshot: st.snapshot.Signed.Version, Timestamp: ts.Version}, nil
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
	unlock, err := r.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := r.load()
	if err != nil {
		return nil, err
	}
	roles := []string{metadata.TIMESTAMP}
	newSnapshot := role == metadata.SNAPSHOT || role == metadata.TARGETS
	newTargets := role == metadata.TARGETS
	if newSnapshot {
		roles = append(roles, metadata.SNAPSHOT)
	}
	if newTargets {
		roles = append(roles, metadata.TARGETS)
	}
	ss, err := gatherSigners(st, kr, roles...)
	if err != nil {
		return nil, err
	}
	return r.publish(st, ss, newTargets, newSnapshot)
}
