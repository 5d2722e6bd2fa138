package keyserver

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ErrMetadataInvalid: the repository's metadata does not verify (a
// signature below its threshold, a broken root chain, a rolled-back or
// expired role, a file that does not parse or does not match what its
// referrer records). The service releases no key while it is so: a device
// would refuse the same metadata, and a key must never be released for a
// version only an unsigned edit made deliverable.
var ErrMetadataInvalid = errors.New("the repository metadata does not verify")

// verifiedState is the repository state as a client reaches and checks
// it: the root chain, the timestamp, snapshot and top-level targets, and
// every delegated role, each signed by a threshold of the keys its
// delegator names.
type verifiedState struct {
	st      *repofiles.State
	tree    *delegation.Tree
	expires time.Time // the earliest expiry of all the roles
}

// verifyRepository reads the repository in dir and checks it as a
// client that trusts its 1.root.json does: the root chain from version 1
// to the newest, the signatures of every role, the versions each role's
// referrer records, and that no role has expired at now. The whole
// repository must verify, delegated roles that sign no keyserver version
// too: the service never picks what to trust out of a repository that
// does not verify.
func verifyRepository(fs afero.Fs, dir string, now time.Time) (*verifiedState, error) {
	root, err := verifyRootChain(fs, filepath.Join(dir, repofiles.MetadataDir))
	if err != nil {
		return nil, err
	}
	st, err := repofiles.ReadState(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadataInvalid, err)
	}
	st.Root = root // the chain's newest, not whatever file is newest now
	checks := []struct {
		role string
		md   any
	}{{metadata.TIMESTAMP, st.Timestamp}, {metadata.SNAPSHOT, st.Snapshot}, {metadata.TARGETS, st.Targets}}
	for _, c := range checks {
		if err := root.VerifyDelegate(c.role, c.md); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMetadataInvalid, c.role, err)
		}
	}
	if want := st.Timestamp.Signed.Meta["snapshot.json"].Version; st.Snapshot.Signed.Version != want {
		return nil, fmt.Errorf("%w: snapshot version %d, the timestamp records %d", ErrMetadataInvalid, st.Snapshot.Signed.Version, want)
	}
	if want := st.Snapshot.Signed.Meta["targets.json"].Version; st.Targets.Signed.Version != want {
		return nil, fmt.Errorf("%w: targets version %d, the snapshot records %d", ErrMetadataInvalid, st.Targets.Signed.Version, want)
	}
	tree, err := delegation.LoadTree(fs, dir, st.Targets, st.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadataInvalid, err)
	}
	v := &verifiedState{st: st, tree: tree, expires: root.Signed.Expires}
	expiries := map[string]time.Time{metadata.ROOT: root.Signed.Expires, metadata.TIMESTAMP: st.Timestamp.Signed.Expires,
		metadata.SNAPSHOT: st.Snapshot.Signed.Expires, metadata.TARGETS: st.Targets.Signed.Expires}
	for _, name := range tree.Order {
		n := tree.Roles[name]
		if n.Meta == nil {
			continue
		}
		if err := tree.CheckSigned(n); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMetadataInvalid, err)
		}
		expiries[name] = n.Meta.Signed.Expires
	}
	for role, exp := range expiries {
		if exp.Before(v.expires) {
			v.expires = exp
		}
		if !now.Before(exp) {
			return nil, fmt.Errorf("%w: %s expired at %s", ErrMetadataInvalid, role, exp.UTC().Format(time.RFC3339))
		}
	}
	return v, nil
}

// verifyRootChain follows N.root.json from 1.root.json, the trust anchor,
// to the newest as a client does: each version signed by a threshold of
// the previous version's root keys and of its own, with consecutive
// version numbers.
func verifyRootChain(fs afero.Fs, metaDir string) (*metadata.Metadata[metadata.RootType], error) {
	vs, err := repofiles.RootVersions(fs, metaDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadataInvalid, err)
	}
	if len(vs) == 0 || vs[0] != 1 {
		return nil, fmt.Errorf("%w: no 1.root.json", ErrMetadataInvalid)
	}
	var root *metadata.Metadata[metadata.RootType]
	for i, v := range vs {
		name := fmt.Sprintf("%d.root.json", v)
		if v != int64(i+1) {
			return nil, fmt.Errorf("%w: %s follows %d.root.json", ErrMetadataInvalid, name, i)
		}
		nr, err := repofiles.ReadMeta(fs, filepath.Join(metaDir, name), metadata.Root(), nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMetadataInvalid, name, err)
		}
		if nr.Signed.Version != v {
			return nil, fmt.Errorf("%w: %s has version %d", ErrMetadataInvalid, name, nr.Signed.Version)
		}
		// go-tuf's VerifyDelegate panics on some unusable keys: check
		// them first.
		if err := pubkey.CheckAll(nr.Signed.Keys); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMetadataInvalid, name, err)
		}
		if root != nil {
			if err := root.VerifyDelegate(metadata.ROOT, nr); err != nil {
				return nil, fmt.Errorf("%w: %s is not signed by a threshold of version %d's root keys: %v", ErrMetadataInvalid, name, v-1, err)
			}
		}
		if err := nr.VerifyDelegate(metadata.ROOT, nr); err != nil {
			return nil, fmt.Errorf("%w: %s is not signed by a threshold of its own root keys: %v", ErrMetadataInvalid, name, err)
		}
		root = nr
	}
	return root, nil
}
