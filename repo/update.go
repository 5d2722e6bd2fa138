package repo

// The one write path. Every command that changes a repository runs as
//
//	r.update(load, func(t *tx) error { check; declare writes })
//
// update takes the writer lock, removes the temporary files a crashed
// writer left behind, loads the state, runs the writer's checks (which may
// store new target files: content-addressed files that nothing references
// until metadata does), and then commits the metadata the writer declared
// in the only safe order:
//
//  1. staged files (a rotation's journal, a file for holders to sign);
//  2. the new versions of delegated roles;
//  3. targets, 4. snapshot, 5. timestamp.json: each role above one that
//     changed is re-signed, and replacing timestamp.json is the instant
//     the new repository becomes visible;
//  6. a new root version (after the roles it re-signs: see rotate.go);
//  7. staged files that are now published are removed.
//
// A writer never calls writeMeta itself, so a new command cannot get the
// order, the re-signing above a change, or the cleanup wrong.

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// tx is one write to the repository: the state as loaded, changed by the
// writer, and the metadata files to write when it commits.
type tx struct {
	r  *Repository
	st *state

	stage   []*staged.File // staged files to write first, in order
	roles   []roleWrite    // delegated roles, in order
	ss      roleSigners    // signers of the top-level roles to re-sign
	resign  map[string]bool
	signed  map[string]*staged.File // top-level metadata signed elsewhere (publish-staged)
	root    *metadata.Metadata[metadata.RootType]
	unstage []string
	err     error // from next, returned by commit
}

// update runs fn as one write, under the writer lock, on the state load
// returns (r.load, which checks every signature, unless the writer checks
// what it needs itself), and commits what fn declared. It returns the
// versions of targets, snapshot and timestamp afterwards.
func (r *Repository) update(load func() (*state, error), fn func(*tx) error) (*Versions, error) {
	unlock, err := r.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := load()
	if err != nil {
		return nil, err
	}
	for _, d := range r.staleDirs(st) {
		if err := atomicfs.RemoveStale(r.fs, filepath.Join(r.dir, d)); err != nil {
			return nil, err
		}
	}
	t := r.newTx(st)
	if err := fn(t); err != nil {
		return nil, err
	}
	return t.commit()
}

func (r *Repository) newTx(st *state) *tx {
	return &tx{r: r, st: st, ss: roleSigners{}, resign: map[string]bool{}, signed: map[string]*staged.File{}}
}

// publish declares new versions of top-level roles, signed by ss: every
// role in roles and every role above them (targets -> snapshot ->
// timestamp). The timestamp is always re-signed.
func (t *tx) publish(ss roleSigners, roles ...string) {
	for name, s := range ss {
		t.ss[name] = s
	}
	for _, role := range roles {
		t.resign[role] = true
	}
	t.resign[metadata.TIMESTAMP] = true
}

// writeRole declares md as the next version of a delegated role, signed by
// ss and recorded in the snapshot, and returns that version.
func (t *tx) writeRole(n *delegation.Role, md *metadata.Metadata[metadata.TargetsType], ss []keySigner) int64 {
	var prev int64
	if n.Ref != nil {
		prev = n.Ref.Version
	}
	md.Signed.Version = t.next(n.Name, prev)
	md.Signed.Expires = t.r.expires(n.Name)
	t.roles = append(t.roles, roleWrite{node: n, md: md, ss: ss})
	return md.Signed.Version
}

// publishSigned declares staged top-level metadata, signed by its key
// holders, to be published as it is.
func (t *tx) publishSigned(sm *staged.File) { t.signed[sm.Role] = sm }

// writeStaged declares a staged file to write before anything else.
func (t *tx) writeStaged(sm *staged.File) { t.stage = append(t.stage, sm) }

// writeRoot declares a new root version, written after the roles it
// re-signs.
func (t *tx) writeRoot(nr *metadata.Metadata[metadata.RootType]) { t.root = nr }

// removeStaged declares a staged file published: it is removed last.
func (t *tx) removeStaged(role string) { t.unstage = append(t.unstage, role) }

// commit writes what the writer declared, in the order the package
// comment gives.
func (t *tx) commit() (*Versions, error) {
	r, st := t.r, t.st
	if st.adopted != nil { // replaced below if this commit writes a snapshot
		st.timestamp.Signed.Meta["snapshot.json"] = st.adopted
	}
	for _, sm := range t.stage {
		if err := staged.WriteFile(r.fs, StagedPath(r.dir, sm.Role), sm); err != nil {
			return nil, err
		}
	}
	for _, w := range t.roles {
		if err := errors.Join(t.err, signRole(w.md, w.ss)); err != nil {
			return nil, err
		}
		mf, err := r.writeMeta(delegation.RoleFile(w.node.Name, w.md.Signed.Version), w.md)
		if err != nil {
			return nil, err
		}
		mf.Version = w.md.Signed.Version
		st.snapshot.Signed.Meta[w.node.Name+".json"] = delegation.SnapshotRef(w.node, mf)
	}
	changed := len(t.roles) > 0
	if sm := t.signed[metadata.TARGETS]; sm != nil {
		st.targets = sm.Targets
	} else if t.resign[metadata.TARGETS] {
		if err := t.sign(st.targets, metadata.TARGETS); err != nil {
			return nil, err
		}
	}
	if t.signed[metadata.TARGETS] != nil || t.resign[metadata.TARGETS] {
		mf, err := r.writeMeta(fmt.Sprintf("%d.targets.json", st.targets.Signed.Version), st.targets)
		if err != nil {
			return nil, err
		}
		mf.Version = st.targets.Signed.Version
		st.snapshot.Signed.Meta["targets.json"] = mf
		changed = true
	}
	if sm := t.signed[metadata.SNAPSHOT]; sm != nil {
		st.snapshot = sm.Snapshot
	} else if changed || t.resign[metadata.SNAPSHOT] {
		if err := t.sign(st.snapshot, metadata.SNAPSHOT); err != nil {
			return nil, err
		}
	}
	if t.signed[metadata.SNAPSHOT] != nil || changed || t.resign[metadata.SNAPSHOT] {
		mf, err := r.writeMeta(fmt.Sprintf("%d.snapshot.json", st.snapshot.Signed.Version), st.snapshot)
		if err != nil {
			return nil, err
		}
		mf.Version = st.snapshot.Signed.Version
		st.timestamp.Signed.Meta["snapshot.json"] = mf
		changed = true
	}
	if sm := t.signed[metadata.TIMESTAMP]; sm != nil {
		st.timestamp = sm.Timestamp
	} else if changed || t.resign[metadata.TIMESTAMP] {
		if err := t.sign(st.timestamp, metadata.TIMESTAMP); err != nil {
			return nil, err
		}
	}
	if t.signed[metadata.TIMESTAMP] != nil || changed || t.resign[metadata.TIMESTAMP] {
		if _, err := r.writeMeta("timestamp.json", st.timestamp); err != nil {
			return nil, err
		}
	}
	if t.root != nil {
		if _, err := r.writeMeta(fmt.Sprintf("%d.root.json", t.root.Signed.Version), t.root); err != nil {
			return nil, err
		}
	}
	for _, role := range t.unstage {
		if err := r.removeStaged(role); err != nil {
			return nil, err
		}
	}
	return &Versions{Targets: st.targets.Signed.Version, Snapshot: st.snapshot.Signed.Version, Timestamp: st.timestamp.Signed.Version}, nil
}

// sign makes md the next version of a top-level role, with a fresh expiry
// and signatures by the signers gathered for it.
func (t *tx) sign(md interface {
	ToBytes(bool) ([]byte, error)
}, role string) error {
	ss := t.ss[role]
	if len(ss) == 0 {
		return fmt.Errorf("internal error: no signers gathered for %s", role)
	}
	switch m := md.(type) {
	case *metadata.Metadata[metadata.TargetsType]:
		m.Signed.Version = t.next(role, m.Signed.Version)
		m.Signed.Expires = t.r.expires(role)
		return errors.Join(t.err, signRole(m, ss))
	case *metadata.Metadata[metadata.SnapshotType]:
		m.Signed.Version = t.next(role, m.Signed.Version)
		m.Signed.Expires = t.r.expires(role)
		return errors.Join(t.err, signRole(m, ss))
	case *metadata.Metadata[metadata.TimestampType]:
		m.Signed.Version++
		m.Signed.Expires = t.r.expires(role)
		return signRole(m, ss)
	}
	return fmt.Errorf("internal error: cannot sign %T", md)
}

// next is the version after cur of role that no publisher has written (a
// failed publisher's orphan is skipped: repofiles.NextVersion).
func (t *tx) next(role string, cur int64) int64 {
	v, err := repofiles.NextVersion(t.r.fs, t.r.metaPath(""), role, cur)
	t.err = errors.Join(t.err, err)
	return v
}
