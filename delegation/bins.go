package delegation

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ModelRead names what a writer of one model reads (LoadModel).
type ModelRead struct {
	ModelID string
	// Paths are more target paths whose bins are read (the manifest of
	// the version a control change names, published or not).
	Paths []string
	// Payloads reads the bins of the payloads of the model's newest
	// version and of each DeltaFrom version too (add-target: reuse and
	// patches).
	Payloads  bool
	DeltaFrom []string
	// Indexed is set when every model in the bins has a version index
	// (repoconfig.Bins.Indexed).
	Indexed bool
	// ReadIndex reads and checks the stored index of the model whose
	// signed target it is given.
	ReadIndex func(*metadata.TargetFiles) (*targets.VersionIndex, error)
}

// LoadModel reads the delegation tree a writer of one model needs: when
// top-level targets delegates to succinct hash bins, only the bins
// LoadForModel reads (a partial tree); otherwise, or when the model has
// no index and not every model has one (its versions may then be in any
// bin), the whole tree (LoadTree).
func LoadModel(fs afero.Fs, dir string, top *metadata.Metadata[metadata.TargetsType], snapshot *metadata.Metadata[metadata.SnapshotType], mr ModelRead) (*Tree, error) {
	if d := top.Signed.Delegations; d != nil && d.Roles == nil && d.SuccinctRoles != nil {
		tree, found, err := LoadForModel(fs, dir, top, snapshot, mr)
		if err != nil || found {
			return tree, err
		}
	}
	return LoadTree(fs, dir, top, snapshot)
}

// LoadForModel reads, for a writer of mr.ModelID in the hash bins of
// top, only the bins it needs (LoadBins): the model's version index's
// and those of mr.Paths, then those of every version's manifest the
// index names (for the version and epoch checks, and the other versions'
// controls) and, with mr.Payloads, of the payloads of the newest version
// and of each delta base (for reuse and patches). A model without an
// index has no version in the bins when mr.Indexed is set (every model
// there has one); otherwise found is false, and the caller reads the
// whole tree (its versions may be in any bin). The bins of the index and
// of mr.Paths are read whole; the others, checked (CheckSigned) as they
// are read, keep only the model's targets (Role.Trimmed): View and
// Effective see only those of them, and Resolve of another model's path
// there is blocked.
func LoadForModel(fs afero.Fs, dir string, top *metadata.Metadata[metadata.TargetsType], snapshot *metadata.Metadata[metadata.SnapshotType], mr ModelRead) (tree *Tree, found bool, err error) {
	modelID := mr.ModelID
	ipath := targets.VersionIndexPath(modelID)
	if tree, err = LoadBins(fs, dir, top, snapshot, append([]string{ipath}, mr.Paths...)); err != nil {
		return nil, false, err
	}
	res := tree.Resolve(ipath)
	if res.Target == nil {
		return tree, mr.Indexed, nil
	}
	vi, err := mr.ReadIndex(res.Target)
	if err != nil {
		return nil, false, err
	}
	// The bins read from here on are for the model's versions only (the
	// index's and mr.Paths', which a writer changes, are whole): each is
	// checked as read and keeps only the model's entries (Role.Trimmed).
	// A later AddBins reads a trimmed bin whole again. (A copy of the
	// pointer: an error return sets the named result tree to nil before
	// the deferred reset runs.)
	trimming := tree
	trimming.trimTo = targets.ModelsDir + "/" + modelID + "/"
	defer func() { trimming.trimTo = "" }()
	var paths []string
	for _, v := range vi.Versions {
		paths = append(paths, targets.ManifestPath(modelID, v))
	}
	if err := tree.AddBins(fs, dir, snapshot, paths); err != nil || !mr.Payloads {
		return tree, err == nil, err
	}
	var want []string
	if n := len(vi.Versions); n > 0 {
		want = append(want, vi.Versions[n-1])
	}
	paths = nil
	for _, v := range append(want, mr.DeltaFrom...) {
		mp := targets.ManifestPath(modelID, v)
		if res := tree.Resolve(mp); res.Target != nil {
			if c, err := targets.ParseCustom(mp, res.Target.Custom); err == nil {
				for _, f := range c.Files {
					paths = append(paths, targets.TargetPath(modelID, v, f))
				}
			}
		}
	}
	return tree, true, tree.AddBins(fs, dir, snapshot, paths)
}

// NewBins is the tree of the hash bins that c (an Apply that created
// them on t.Top) made: every bin with metadata in memory, listing the
// targets of moved whose paths hash to it.
func (t *Tree) NewBins(c *Change, moved map[string]*metadata.TargetFiles) *Tree {
	bins := &Tree{Top: t.Top, Roles: map[string]*Role{}}
	for _, n := range c.Sign {
		n.Meta = metadata.Targets()
		bins.Roles[n.Name] = n
		bins.Order = append(bins.Order, n.Name)
	}
	sr := bins.HashBins()
	for p, tf := range moved {
		bins.Roles[sr.GetRolesForTarget(p)[0].Name].Meta.Signed.Targets[p] = tf
	}
	return bins
}

// Version is a published version as devices resolve its manifest target:
// the entry, the role that signs it and its custom metadata.
type Version struct {
	ModelID, Version string
	ManifestPath     string
	Target           *metadata.TargetFiles // the entry in its role's metadata
	Custom           *targets.Custom
	Node             *Role // the delegated role that signs it; nil: top-level targets
	Tree             *Tree
	View             *metadata.Metadata[metadata.TargetsType] // every role's targets as devices resolve them
}

// FindVersion resolves modelID@version as a device's lookup does. An
// unpublished version is rollout.ErrNotPublished; a manifest target whose
// custom metadata does not parse, repofiles.ErrStoredMetadata.
func (t *Tree) FindVersion(modelID, version string) (*Version, error) {
	ref := &Version{ModelID: modelID, Version: version, ManifestPath: targets.ManifestPath(modelID, version), Tree: t, View: t.View()}
	res := t.Resolve(ref.ManifestPath)
	if res.Target == nil {
		return nil, rollout.NotPublished(ref.View.Signed.Targets, modelID, version, res.Blocked)
	}
	ref.Target = res.Target
	if res.Role != metadata.TARGETS {
		ref.Node = t.Roles[res.Role]
	}
	var err error
	if ref.Custom, err = targets.ParseCustom(ref.ManifestPath, res.Target.Custom); err != nil {
		return nil, repofiles.StoredError(res.Role, err)
	}
	if ref.Custom.Kind != targets.KindManifest {
		return nil, repofiles.StoredError(res.Role, fmt.Errorf("%s is not a manifest target", ref.ManifestPath))
	}
	return ref, nil
}

// versionOnlyBins: a snapshot records the bins of a repository with at
// least this many by version only (TUF allows it): the snapshot every
// device downloads stays a few dozen bytes per bin.
const versionOnlyBins = 256

// SnapshotRef is what a snapshot records for a delegated role's new
// metadata mf: its version only for a bin of versionOnlyBins or more.
func SnapshotRef(n *Role, mf *metadata.MetaFiles) *metadata.MetaFiles {
	if n.Bins != nil {
		if _, count := n.Bins.GetSuffixLen(); count >= versionOnlyBins {
			return &metadata.MetaFiles{Version: mf.Version}
		}
	}
	return mf
}

// IndexVersions lists the versions a model's index names after a
// publication of version: every version of the model in view (the
// targets clients resolve, as far as the publication read them: with
// LoadForModel's bins, every version the index names) and version.
func IndexVersions(view map[string]*metadata.TargetFiles, modelID, version string) []string {
	out := []string{version}
	for _, v := range targets.PublishedVersions(view)[modelID] {
		out = append(out, v.String())
	}
	return out
}

// Delegates reports whether d delegates to anything (named roles or hash
// bins), and names what.
func Delegates(d *metadata.Delegations) (string, bool) {
	switch {
	case d == nil:
		return "", false
	case d.SuccinctRoles != nil:
		return d.SuccinctRoles.NamePrefix + "-*", true
	case len(d.Roles) > 0:
		var names []string
		for _, r := range d.Roles {
			names = append(names, r.Name)
		}
		return strings.Join(names, ", "), true
	}
	return "", false
}

// Migrated is what Migrate did: the tree of the new bins (every bin with
// metadata in memory, for the writer to sign), and how many targets and
// models it moved.
type Migrated struct {
	Tree          *Tree
	Bins          *metadata.SuccinctRoles
	Moved, Models int
}

// Migrate delegates every target path of top (a top-level targets that
// delegates nothing) to the hash bins opts describe, moves every target
// of top, and imported ones, into its bin, and adds a version index for
// every model, stored by putIndex. top is changed in place; the snapshot
// is checked for reused names (Apply).
func Migrate(top *metadata.Metadata[metadata.TargetsType], snapshot *metadata.Metadata[metadata.SnapshotType], opts Options, imported map[string]*metadata.TargetFiles,
	putIndex func(modelID string, versions []string) (*metadata.TargetFiles, error)) (*Migrated, error) {
	if to, ok := Delegates(top.Signed.Delegations); ok {
		return nil, fmt.Errorf("%w: targets already delegates (to %s): only a repository whose targets delegates nothing is migrated to hash bins", ErrDelegation, to)
	}
	moved := top.Signed.Targets
	for p, tf := range imported {
		if _, dup := moved[p]; dup {
			return nil, fmt.Errorf("%w: imported target %s is already published", ErrDelegation, p)
		}
		moved[p] = tf
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	top.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}}
	tree := &Tree{Top: top, Roles: map[string]*Role{}}
	c, err := tree.Apply(snapshot, opts)
	if err != nil {
		return nil, err
	}
	// Targets that are not models (the telemetry sampling config: it is
	// the whole repository's, signed by top-level targets) stay in top.
	top.Signed.Targets = map[string]*metadata.TargetFiles{}
	for p, tf := range moved {
		if !strings.HasPrefix(p, targets.ModelsDir+"/") {
			top.Signed.Targets[p] = tf
			delete(moved, p)
		}
	}
	published := targets.PublishedVersions(moved)
	mg := &Migrated{Bins: top.Signed.Delegations.SuccinctRoles, Moved: len(moved), Models: len(published)}
	for _, id := range slices.Sorted(maps.Keys(published)) {
		var vs []string
		for _, v := range published[id] {
			vs = append(vs, v.String())
		}
		tf, err := putIndex(id, vs)
		if err != nil {
			return nil, err
		}
		moved[targets.VersionIndexPath(id)] = tf
	}
	mg.Tree = tree.NewBins(c, moved)
	return mg, nil
}
