package repo

// The repository's side of staged metadata (package staged holds the
// format, signing and merging, and the signature checks): staging a new
// version of a role in DIR/staged/ROLE.json, signing and merging into it
// under the writer lock, and publishing it (rotate.go).

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// StagedDir is the directory, inside a repository, of staged metadata.
const StagedDir = staged.Dir

// StagedPath is where the repository in dir keeps the staged version of
// role.
func StagedPath(dir, role string) string { return staged.Path(dir, role) }

// removeStaged removes a staged file once it is published, durably.
func (r *Repository) removeStaged(role string) error {
	p := StagedPath(r.dir, role)
	if err := r.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return atomicfs.SyncDir(r.fs, filepath.Dir(p))
}

// StageResult reports a staged file and its signatures so far.
type StageResult struct {
	Role       string                  `json:"role"`
	Version    int64                   `json:"version"`
	Expires    time.Time               `json:"expires"`
	File       string                  `json:"file"`
	Summary    []string                `json:"summary"`
	Signatures *staged.SignatureStatus `json:"signatures"`
}

// Stage writes, unsigned, a new version of role with the current content
// and a fresh expiry, to DIR/staged/ROLE.json: for a root, version N+1
// with the same keys (a root re-signing); for targets, snapshot and
// timestamp, the next version. Key holders then sign it (SignStaged) and
// PublishStaged publishes it. To change keys, use Rotate.
func (r *Repository) Stage(role string) (*StageResult, error) {
	if err := staged.CheckTopLevelRole(role); err != nil {
		return nil, err
	}
	if role == metadata.ROOT {
		res, err := r.Rotate(nil, RotateOptions{Role: metadata.ROOT, Stage: true})
		if err != nil {
			return nil, err
		}
		return res.Staged, nil
	}
	var res *StageResult
	_, err := r.update(r.load, func(t *tx) error {
		if err := r.checkNotStaged(role); err != nil {
			return err
		}
		res = r.stageRole(t, role)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// stageRole declares Stage's file: the next version of role, unsigned,
// with the content of t's state.
func (r *Repository) stageRole(t *tx, role string) *StageResult {
	st := t.st
	sm := &staged.File{Role: role}
	exp := r.expires(role)
	switch role {
	case metadata.TARGETS:
		sm.Targets = st.targets
		sm.Targets.Signed.Version++
		sm.Targets.Signed.Expires = exp
	case metadata.SNAPSHOT:
		sm.Snapshot = st.snapshot
		sm.Snapshot.Signed.Version++
		sm.Snapshot.Signed.Expires = exp
	case metadata.TIMESTAMP:
		sm.Timestamp = st.timestamp
		sm.Timestamp.Signed.Version++
		sm.Timestamp.Signed.Expires = exp
	}
	sm.SetSignatures([]metadata.Signature{})
	t.writeStaged(sm)
	return &StageResult{Role: role, Version: sm.Version(), Expires: sm.Expires(), File: StagedPath(r.dir, role), Summary: staged.Describe(sm, st.root), Signatures: staged.CheckSignatures(sm, st.root)}
}

// checkNotStaged refuses to stage over an earlier staged file
// (staged.CheckNone).
func (r *Repository) checkNotStaged(role string) error { return staged.CheckNone(r.fs, r.dir, role) }

// ChangeTargets runs fn, under the writer lock, on the targets of the
// top-level targets role (fn may store target files first) and publishes
// the change: targets, snapshot and timestamp re-signed with kr. With
// stage, kr is unused: the change is staged unsigned for the targets key
// holders, as Stage stages (the StageResult says where). For targets that
// are not models (telemetry.SamplingTarget) and staged halts.
func (r *Repository) ChangeTargets(kr keys.Keyring, stage bool, fn func(map[string]*metadata.TargetFiles, targetstore.Store) error) (v *Versions, res *StageResult, err error) {
	v, err = r.update(r.load, func(t *tx) (err error) {
		var ss roleSigners
		if stage {
			err = r.checkNotStaged(metadata.TARGETS)
		} else { // the keys first: a missing key changes nothing
			ss, err = gatherSigners(t.st, kr, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
		}
		if err == nil {
			err = fn(t.st.targets.Signed.Targets, r.targetStore())
		}
		if err == nil && stage {
			res = r.stageRole(t, metadata.TARGETS)
		} else if err == nil {
			t.publish(ss, metadata.TARGETS)
		}
		return err
	})
	return v, res, err
}

// SignStaged adds signatures to the repository's staged ROLE.json: one
// per key of kr that may sign it (a root key of the staged root or of the
// current one; for other roles, a key of the role in the current root).
func (r *Repository) SignStaged(role string, kr keys.Keyring, opts staged.SignOptions) (*staged.SignResult, error) {
	if err := staged.CheckTopLevelRole(role); err != nil {
		return nil, err
	}
	// The keys are opened (passphrases typed) without the writer lock;
	// the new signatures are then merged, under the lock, into the staged
	// file as it is by then, so that holders signing at the same time do
	// not drop each other's signatures.
	st, err := r.readState()
	if err != nil {
		return nil, err
	}
	p := StagedPath(r.dir, role)
	sm, err := staged.ReadFile(r.fs, p, role)
	if err != nil {
		return nil, err
	}
	write := func(signed *staged.File) error {
		_, err := r.update(r.readState, func(t *tx) error {
			cur, err := staged.ReadFile(r.fs, p, role)
			if err != nil {
				return err
			}
			a, err1 := cur.Payload()
			b, err2 := signed.Payload()
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				return fmt.Errorf("%w: %s changed while it was being signed: sign again", ErrStaged, p)
			}
			sigs := cur.Signatures()
			for _, s := range signed.Signatures() {
				sigs = slices.DeleteFunc(sigs, func(x metadata.Signature) bool { return x.KeyID == s.KeyID })
				sigs = append(sigs, s)
			}
			cur.SetSignatures(sigs)
			*signed = *cur
			t.writeStaged(cur)
			return nil
		})
		return err
	}
	return staged.Sign(write, p, sm, st.root, kr, opts)
}

// MergeSignatures merges into the repository's staged ROLE.json the
// signatures of other copies of it (each file's bytes in others, by
// name). Every copy must stage the same content; signatures are merged by
// key ID, and each must be a valid signature by a key that may sign.
func (r *Repository) MergeSignatures(role string, others map[string][]byte) (*staged.MergeResult, error) {
	if err := staged.CheckTopLevelRole(role); err != nil {
		return nil, err
	}
	var res *staged.MergeResult
	_, err := r.update(r.readState, func(t *tx) error {
		p := StagedPath(r.dir, role)
		sm, err := staged.ReadFile(r.fs, p, role)
		if err != nil {
			return err
		}
		if res, err = staged.Merge(p, sm, t.st.root, others); err != nil {
			return err
		}
		t.writeStaged(sm)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// PublishStagedResult reports a publication of staged metadata.
type PublishStagedResult struct {
	Role       string                  `json:"role"`
	Version    int64                   `json:"version"`
	Signatures *staged.SignatureStatus `json:"signatures,omitempty"`
	// Resigned lists the roles re-signed as new versions (in Versions).
	Resigned []string  `json:"resigned"`
	Versions *Versions `json:"metadata_versions"`
	// Resumed is set when a root was already published and only the
	// re-signing that followed it was completed.
	Resumed  bool     `json:"resumed,omitempty"`
	Warnings []string `json:"warnings"`
}

// PublishStaged publishes the staged version of role once its signatures
// meet every threshold (for a root N+1: root N's and its own), naming the
// keys still missing otherwise. Publishing a root re-signs the roles it
// invalidates with their new keys from kr; publishing staged targets or
// snapshot re-signs the roles above it with the online keys in kr. A
// staged root whose publication was interrupted is completed.
func (r *Repository) PublishStaged(role string, kr keys.Keyring) (*PublishStagedResult, error) {
	if err := staged.CheckTopLevelRole(role); err != nil {
		return nil, err
	}
	if kr == nil {
		kr = keys.MemKeyring{}
	}
	p := StagedPath(r.dir, role)
	var sm *staged.File
	// The staged file is read first (nothing staged is the likelier
	// failure); a staged root is published from a state whose roles may
	// not verify yet (an interrupted rotation): publishStagedRoot checks.
	load := func() (*state, error) {
		var err error
		if sm, err = staged.ReadFile(r.fs, p, role); err != nil {
			return nil, err
		}
		if role == metadata.ROOT {
			return r.readState()
		}
		return r.load()
	}
	var res *PublishStagedResult
	v, err := r.update(load, func(t *tx) (err error) {
		if role == metadata.ROOT {
			res, err = r.publishStagedRoot(t, sm, kr)
		} else {
			res, err = r.publishStaged(t, sm, kr)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Versions = v
	return res, nil
}

// publishStaged declares staged targets, snapshot or timestamp metadata
// published, and the roles above it re-signed.
func (r *Repository) publishStaged(t *tx, sm *staged.File, kr keys.Keyring) (*PublishStagedResult, error) {
	st, role, p := t.st, sm.Role, StagedPath(r.dir, sm.Role)
	var cur int64
	switch role {
	case metadata.TARGETS:
		cur = st.targets.Signed.Version
	case metadata.SNAPSHOT:
		cur = st.snapshot.Signed.Version
	case metadata.TIMESTAMP:
		cur = st.timestamp.Signed.Version
	}
	res := &PublishStagedResult{Role: role, Version: sm.Version(), Resigned: []string{}, Warnings: []string{}}
	var err error
	if res.Signatures, err = staged.CheckPublishable(sm, p, cur, r.Now(), st.root); err != nil {
		return nil, err
	}
	var above []string
	switch role {
	case metadata.TARGETS:
		above = []string{metadata.SNAPSHOT, metadata.TIMESTAMP}
	case metadata.SNAPSHOT:
		above = []string{metadata.TIMESTAMP}
	}
	ss, err := gatherSigners(st, kr, above...)
	if err != nil {
		return nil, err
	}
	t.publishSigned(sm)
	if len(above) > 0 {
		t.publish(ss, above...)
	}
	t.removeStaged(role)
	res.Resigned = append(res.Resigned, above...)
	return res, nil
}

func (r *Repository) publishStagedRoot(t *tx, sm *staged.File, kr keys.Keyring) (*PublishStagedResult, error) {
	p, st := StagedPath(r.dir, metadata.ROOT), t.st
	if err := checkKeys(st.root.Signed.Keys); err != nil {
		return nil, storedErr(metadata.ROOT, err)
	}
	if err := st.root.VerifyDelegate(metadata.ROOT, st.root); err != nil {
		return nil, storedErr(metadata.ROOT, err)
	}
	if err := r.checkRootLink(st.root); err != nil {
		return nil, err
	}
	nr := sm.Root
	res := &PublishStagedResult{Role: metadata.ROOT, Version: nr.Signed.Version, Resigned: []string{}, Warnings: []string{}}
	// prev is the root before nr; changedFrom is what the online roles are
	// compared with (nil once nr is published: only what does not verify
	// under it is re-signed, and there is no point signing with old keys).
	var prev, changedFrom *metadata.Metadata[metadata.RootType]
	switch {
	case st.root.Signed.Version == nr.Signed.Version && sameSigned(st.root.Signed, nr.Signed):
		res.Resumed = true
		name := fmt.Sprintf("%d.root.json", nr.Signed.Version-1)
		if data, err := readBounded(r.fs, r.metaPath(name), maxMetadataSize); err == nil {
			if pr, err := metadata.Root().FromBytes(data); err == nil && checkKeys(pr.Signed.Keys) == nil {
				prev = pr
			}
		}
	case st.root.Signed.Version+1 == nr.Signed.Version:
		prev, changedFrom = st.root, st.root
		res.Signatures = staged.CheckSignatures(sm, prev)
		if err := res.Signatures.Err(); err != nil {
			return nil, err
		}
		if err := staged.Verify(sm, prev); err != nil {
			return nil, err
		}
		if !nr.Signed.Expires.After(r.Now()) {
			return nil, fmt.Errorf("%w: staged root v%d expired at %s; remove %s and stage again", ErrStaged, nr.Signed.Version, nr.Signed.Expires.UTC().Format(time.RFC3339), p)
		}
	default:
		return nil, fmt.Errorf("%w: staged root v%d is stale: the repository's root is v%d; remove %s and stage again", ErrStaged, nr.Signed.Version, st.root.Signed.Version, p)
	}
	// Each online role must verify under the newest published root or the
	// staged one (or, after an interrupted publication, the one before):
	// never re-sign metadata that neither signed.
	for _, role := range []string{metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS} {
		md := st.roleMD(role)
		if st.root.VerifyDelegate(role, md) == nil || nr.VerifyDelegate(role, md) == nil || (prev != nil && prev.VerifyDelegate(role, md) == nil) {
			continue
		}
		return nil, storedErr(role, fmt.Errorf("signed neither by the keys of root v%d nor by those of root v%d", st.root.Signed.Version, nr.Signed.Version))
	}
	plan, err := r.planRoot(st, changedFrom, nr, kr)
	if err != nil {
		return nil, err
	}
	if !res.Resumed {
		if err := staged.CleanSignatures(sm, staged.EligibleKeys(sm, prev)); err != nil {
			return nil, err
		}
	}
	applyRoot(t, nr, plan, !res.Resumed)
	res.Resigned = plan.Roles()
	res.Warnings = append(res.Warnings, plan.Warnings...)
	return res, nil
}
