package keyserver

import (
	"errors"
	"path/filepath"
	"sync"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// versionIndex knows which versions the published metadata delivers by
// key service, and their signed content key recipients. It reads the
// repository as clients see it (timestamp, snapshot, targets and every
// delegated role, resolved as a client resolves them) and reads it again
// only when timestamp.json names another snapshot version: a check per
// request costs one small bounded read.
//
// It trusts the repository directory as mrepo itself does (it is the
// publisher's own copy, audited by mrepo verify): signatures are not
// checked here.
type versionIndex struct {
	fs  afero.Fs
	dir string

	mu       sync.Mutex
	snapshot int64             // the snapshot version indexed (0: none yet)
	byPath   map[string]string // manifest target path -> content key recipient
}

// recipient returns the signed content key recipient of modelID at
// version, if the version is published with delivery "keyserver".
func (x *versionIndex) recipient(modelID, version string) (string, bool, error) {
	ts, err := repofiles.ReadMeta(x.fs, filepath.Join(x.dir, repofiles.MetadataDir, "timestamp.json"), metadata.Timestamp(), nil)
	if err != nil {
		return "", false, repofiles.StoredError("timestamp.json", err)
	}
	snap := ts.Signed.Meta["snapshot.json"]
	if snap == nil {
		return "", false, repofiles.StoredError("timestamp.json", errors.New("no snapshot.json entry"))
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if snap.Version != x.snapshot {
		if err := x.load(); err != nil {
			return "", false, err
		}
	}
	r, ok := x.byPath[targets.ManifestPath(modelID, version)]
	return r, ok, nil
}

// load indexes the current state. On an error the previous index stays
// and the next request tries again (a writer may be half-way through a
// publication).
func (x *versionIndex) load() error {
	st, err := repofiles.ReadState(x.fs, x.dir)
	if err != nil {
		return err
	}
	tree, err := delegation.LoadTree(x.fs, x.dir, st.Targets, st.Snapshot)
	if err != nil {
		return err
	}
	byPath := map[string]string{}
	for p, res := range tree.Effective() {
		pp, err := targets.ParseTargetPath(p)
		if err != nil || pp.File != targets.ManifestName {
			continue
		}
		c, err := targets.ParseCustom(p, res.Target.Custom)
		// A revoked version (the kill switch) gets no key: no device may
		// install it.
		if err != nil || c.Encrypted == nil || c.Encrypted.Delivery != targets.DeliveryKeyServer || c.Revoked != nil {
			continue
		}
		byPath[p] = c.Encrypted.Recipient
	}
	x.byPath, x.snapshot = byPath, st.Snapshot.Signed.Version
	return nil
}
