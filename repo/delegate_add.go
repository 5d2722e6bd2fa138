package repo

import (
	"fmt"
	"maps"
	"slices"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/rolesign"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// destination is where AddTarget signs a version's targets: top-level
// targets, a named delegated role (AddOptions.Role), or, when top-level
// targets delegates to succinct hash bins, the bin of each target path.
type destination struct {
	tree *delegation.Tree
	// view is the state as the version checks must see it: the targets
	// every role signs, resolved as clients resolve them.
	view *state
	node *delegation.Role        // a named role
	bins *metadata.SuccinctRoles // hash bins
	// touched lists the bins the publication writes (set by checkPaths).
	touched []*delegation.Role
	// load reads the bins of more paths into a partial tree (bins.go).
	load func(paths []string) error
	// mig is set when the publication moves top-level targets into new
	// bins first (bins.go): the bins are in memory, written by mig.
	mig *migration
	// first holds the signers gathered before the bins were read
	// (signersFirst), if they were.
	first roleSigners
}

// modelRead is what a writer of modelID reads of hash bins at least
// (delegation.LoadModel): the model's index and its versions' manifests.
func (r *Repository) modelRead(modelID string) delegation.ModelRead {
	return delegation.ModelRead{ModelID: modelID, Indexed: r.cfg.Bins != nil && r.cfg.Bins.Indexed,
		ReadIndex: func(tf *metadata.TargetFiles) (*targets.VersionIndex, error) {
			return r.targetStore().VersionIndex(modelID, tf)
		}}
}

// binsSigners is the key under which a destination keeps the bins' signers.
const binsSigners = "\x00bins"

// destination resolves where AddTarget publishes.
// A publication into hash bins reads only the bins it needs (delegation.LoadModel).
func (r *Repository) destination(st *state, role string, m *targets.Manifest, newPaths, deltaFrom []string) (*destination, error) {
	var tree *delegation.Tree
	var err error
	if role == "" {
		mr := r.modelRead(m.ModelID)
		mr.Payloads, mr.DeltaFrom, mr.Paths = true, deltaFrom, newPaths // the new version's bins whole, read once
		tree, err = delegation.LoadModel(r.fs, r.dir, st.targets, st.snapshot, mr)
	} else {
		tree, err = r.loadTree(st)
	}
	if err != nil {
		return nil, err
	}
	d := &destination{tree: tree, view: viewOf(tree, st)}
	if tree.Partial {
		d.load = func(paths []string) error { return tree.AddBins(r.fs, r.dir, st.snapshot, paths) }
	}
	sr := tree.HashBins()
	switch {
	case role == "" && sr != nil:
		d.bins = sr
	case role == "":
	case sr != nil:
		return nil, fmt.Errorf("%w: --role %s: targets delegates to hash bins (%s-*); publish without --role and each target goes to its bin", ErrDelegation, role, sr.NamePrefix)
	default:
		n := tree.Roles[role]
		if n == nil || n.Parent != metadata.TARGETS || n.Delegated == nil {
			return nil, fmt.Errorf("%w: role %s is not delegated by targets%s", ErrDelegation, role, tree.RolesHint())
		}
		d.node = n
	}
	return d, nil
}

// checkPaths refuses, before anything is written, target paths that the
// destination may not sign or that clients would not look up there.
func (d *destination) checkPaths(paths []string) (err error) {
	switch {
	case d.node != nil:
		return d.tree.CheckRolePaths(d.node, paths)
	case d.bins != nil:
		if d.load != nil {
			if err := d.load(paths); err != nil {
				return err
			}
		}
		d.touched, err = d.tree.BinsFor(d.bins, paths)
		return err
	}
	return d.tree.CheckTopLevelPaths(paths)
}

// signers gathers every signer the publication needs: the role's keys (or
// the bins', or the targets key), then snapshot and timestamp. A role's
// current metadata must be signed by its keys before it is built on.
func (d *destination) signers(r *Repository, st *state, kr keys.Keyring) (roleSigners, error) {
	switch {
	case d.node != nil:
		rs, err := rolesign.Delegated(d.tree, d.node, kr)
		if err != nil {
			return nil, err
		}
		ss, err := gatherSigners(st, kr, metadata.SNAPSHOT, metadata.TIMESTAMP)
		if err != nil {
			return nil, err
		}
		ss[d.node.Name] = rs
		return ss, nil
	case d.bins != nil:
		// Every bin read, not only those re-signed: the version checks and
		// the new (signed) version index are built from what they list.
		if d.mig != nil {
			return binsSignerSet(st, kr, d.bins, metadata.TARGETS)
		}
		if err := d.tree.CheckAllSigned(); err != nil {
			return nil, err
		}
		if d.first != nil {
			return d.first, nil
		}
		return binsSignerSet(st, kr, d.bins)
	}
	return gatherSigners(st, kr, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
}

// binsSignerSet gathers the signers of a publication into the hash bins
// sr: the bins' keys, snapshot's and timestamp's, and those of more roles.
func binsSignerSet(st *state, kr keys.Keyring, sr *metadata.SuccinctRoles, more ...string) (roleSigners, error) {
	rs, err := signers(kr, sr.NamePrefix+"-*", &metadata.Role{KeyIDs: sr.KeyIDs, Threshold: sr.Threshold})
	if err != nil {
		return nil, err
	}
	ss, err := gatherSigners(st, kr, append([]string{metadata.SNAPSHOT, metadata.TIMESTAMP}, more...)...)
	if err != nil {
		return nil, err
	}
	ss[binsSigners] = rs
	return ss, nil
}

// signersFirst gathers, for a publication into existing hash bins, the
// signers before any bin is read: decrypting a key file takes scrypt's
// block (online keys: 8 MiB, or 32 MiB before 2026-12; freed at once,
// keys.File.Decrypt), else on top of the parsed bins in the peak memory.
func signersFirst(st *state, kr keys.Keyring, role string) (roleSigners, error) {
	d := st.targets.Signed.Delegations
	if role != "" || d == nil || d.Roles != nil || d.SuccinctRoles == nil {
		return nil, nil
	}
	return binsSignerSet(st, kr, d.SuccinctRoles)
}

// commit adds the new targets to the destination's metadata and declares
// the writes: the delegated roles' new versions, or (top-level) targets,
// and the roles above. It returns the versions of the delegated roles it
// signs.
func (d *destination) commit(t *tx, ss roleSigners, newTargets map[string]*metadata.TargetFiles) map[string]int64 {
	if d.node == nil && d.bins == nil {
		for p, tf := range newTargets {
			t.st.targets.Signed.Targets[p] = tf
		}
		t.publish(ss, metadata.TARGETS)
		return nil
	}
	type group struct {
		node *delegation.Role
		md   *metadata.Metadata[metadata.TargetsType]
		ss   []keySigner
	}
	groups := map[string]*group{}
	for p, tf := range newTargets {
		node, rs := d.node, ss[binsSigners]
		if d.bins != nil {
			node = d.tree.Roles[d.bins.GetRolesForTarget(p)[0].Name] // checked by checkPaths
		} else {
			rs = ss[node.Name]
		}
		g := groups[node.Name]
		if g == nil {
			g = &group{node: node, md: node.Meta, ss: rs}
			if g.md == nil {
				g.md = metadata.Targets()
			}
			groups[node.Name] = g
		}
		g.md.Signed.Targets[p] = tf
	}
	if d.mig != nil {
		d.mig.declare(t)
		t.publish(ss, metadata.TARGETS)
		return d.mig.versions()
	}
	roles := map[string]int64{}
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		g := groups[name]
		roles[name] = t.writeRole(g.node, g.md, g.ss)
	}
	t.publish(ss, metadata.SNAPSHOT)
	return roles
}
