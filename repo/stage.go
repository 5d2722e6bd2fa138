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
		res = &StageResult{Role: role, Version: sm.Version(), Expires: sm.Expires(), File: StagedPath(r.dir, role), Summary: staged.Describe(sm, st.root), Signatures: staged.CheckSignatures(sm, st.root)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// checkNotStaged refuses to stage over an earlier staged file: holders
// may be signing it.
func (r *Repository) checkNotStaged(role string) error {
	p := StagedPath(r.dir, role)
	data, err := readBounded(r.fs, p, maxMetadataSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	v := "a version"
	if sm, err := staged.Parse(data, role); err == nil {
		v = fmt.Sprintf("v%d", sm.Version())
	}
	return fmt.Errorf("%w: %s %s is already staged in %s: publish it (mrepo publish-staged --role %s) or remove that file to start over", ErrStaged, role, v, p, role)
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
