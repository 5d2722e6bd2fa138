package audit

import (
	"bytes"
	"fmt"
	"path/filepath"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// An incremental verify (Options.Since) checks what was published after a
// snapshot version that an earlier verify found good: the top-level chain
// as a full verify does (root versions, timestamp, snapshot), then only
// the targets roles whose version differs from the one that snapshot
// records (top-level targets is always read: it delegates the others), and
// of those only the targets they newly list or list differently, whose
// bytes are hashed. A role whose version is unchanged is not read at all,
// nor anything it delegates: tampering with files the baseline already
// covered is for a full verify to find.

// baseline is the snapshot an incremental verify starts from, and the
// role versions it records.
type baseline struct {
	version int64
	roles   map[string]int64 // role name -> version
	meta    map[string]*metadata.MetaFiles
}

// loadBaseline reads metadata/<since>.snapshot.json and checks it can be
// a baseline for snap, the current snapshot: it parses, is that version,
// is not newer than snap, and is signed by the snapshot keys of root (a
// baseline from before a snapshot key rotation is refused: verify fully
// once). A role that snap records at a lower version than the baseline,
// or no longer records, has been rolled back.
func (v *verifier) loadBaseline(root *metadata.Metadata[metadata.RootType], snap *metadata.Metadata[metadata.SnapshotType], since int64) *baseline {
	name := fmt.Sprintf("%d.snapshot.json", since)
	bad := func(format string, args ...any) *baseline {
		v.problem(SinceInvalid, metadata.SNAPSHOT, "", "--since %d: "+format, append([]any{since}, args...)...)
		return nil
	}
	if since > snap.Signed.Version {
		return bad("newer than the current snapshot, version %d", snap.Signed.Version)
	}
	data, err := repofiles.ReadBounded(v.fs, filepath.Join(v.dir, repofiles.MetadataDir, name), repofiles.MaxMetadataSize)
	if err != nil {
		return bad("%s: %v", name, err)
	}
	old, err := metadata.Snapshot().FromBytes(data)
	if err != nil {
		return bad("%s: %v", name, err)
	}
	if old.Signed.Version != since {
		return bad("%s has version %d", name, old.Signed.Version)
	}
	if err := root.VerifyDelegate(metadata.SNAPSHOT, old); err != nil {
		return bad("%s is not signed by the current root's snapshot keys (rotated since?): verify the whole repository instead", name)
	}
	b := &baseline{version: since, roles: map[string]int64{}, meta: map[string]*metadata.MetaFiles{}}
	for file, mf := range old.Signed.Meta {
		role := trimJSON(file)
		b.roles[role] = mf.Version
		b.meta[role] = mf
		now := snap.Signed.Meta[file]
		switch {
		case now == nil:
			v.problem(RoleRolledBack, role, "", "snapshot %d records %s at version %d, snapshot %d not at all", since, file, mf.Version, snap.Signed.Version)
		case now.Version < mf.Version:
			v.problem(RoleRolledBack, role, "", "version %d in snapshot %d, %d in snapshot %d", now.Version, snap.Signed.Version, mf.Version, since)
		}
	}
	return b
}

func trimJSON(file string) string { return file[:len(file)-len(".json")] }

// unchanged reports whether role has the version the baseline records
// (always false without a baseline, and for top-level targets, which
// delegates every other role).
func (b *baseline) unchanged(role string, version int64) bool {
	if b == nil || role == metadata.TARGETS {
		return false
	}
	old, ok := b.roles[role]
	return ok && old == version
}

// fresh returns the targets of r that the baseline's version of the same
// role does not list with the same length, hashes and custom metadata,
// each mapped to true when that version does not list its path at all
// (nil without a baseline: all of them; all of them mapped to true when
// the role had no version then or it cannot be read).
func (v *verifier) fresh(root *metadata.Metadata[metadata.RootType], r verifiedRole) map[string]bool {
	if v.base == nil {
		return nil
	}
	old := v.baselineRole(root, r)
	out := map[string]bool{}
	for p, tf := range r.md.Signed.Targets {
		var was *metadata.TargetFiles
		if old != nil {
			was = old.Signed.Targets[p]
		}
		if !sameTarget(was, tf) {
			out[p] = was == nil
		}
	}
	return out
}

// baselineRole reads the baseline's version of a targets role, or nil
// (then every target of the role is checked). That file is checked
// again: it decides which targets are not hashed, and anyone who can
// write to the repository could otherwise add a new target's entry to it
// (with the hashes of damaged bytes) and have the target skipped. It must
// match what the baseline snapshot records for it (length and hashes,
// when recorded; a snapshot of many hash bins records the version only)
// and be signed by a threshold of the keys that delegate the role now.
func (v *verifier) baselineRole(root *metadata.Metadata[metadata.RootType], r verifiedRole) *metadata.Metadata[metadata.TargetsType] {
	ref := v.base.meta[r.name]
	if ref == nil || !root.Signed.ConsistentSnapshot {
		return nil
	}
	md, err := repofiles.ReadMeta(v.fs, filepath.Join(v.dir, repofiles.MetadataDir, repofiles.RoleFile(r.name, ref.Version)), metadata.Targets(), ref)
	if err != nil || md.Signed.Version != ref.Version {
		return nil
	}
	if r.parent == nil {
		err = root.VerifyDelegate(r.name, md)
	} else {
		err = r.parent.VerifyDelegate(r.name, md)
	}
	if err != nil {
		return nil
	}
	return md
}

func sameTarget(a, b *metadata.TargetFiles) bool {
	if a == nil || b == nil || a.Length != b.Length || !a.Hashes.Equal(b.Hashes) || (a.Custom == nil) != (b.Custom == nil) {
		return false
	}
	return a.Custom == nil || bytes.Equal(*a.Custom, *b.Custom)
}
