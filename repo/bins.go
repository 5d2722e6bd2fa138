package repo

// Hash bins at scale (docs/design.md section 13): the model version index
// every publication into hash bins signs, reading only the bins a
// publication needs, and moving top-level targets into bins (migration:
// mrepo bins migrate, or add-target past the configured threshold).

import (
	"fmt"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/repoconfig"
	"github.com/edgetuf/edgetuf/internal/rolesign"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/release"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// BinsPrefix is the name prefix of the hash bins a migration creates.
const BinsPrefix = "bins"

// migration is top-level targets' entries moved into new hash bins, in
// memory (delegation.Migrate), with the signers of the bins: a
// publication adds to them, then declares the writes.
type migration struct {
	*delegation.Migrated
	ss []keySigner
}

// migrate delegates top-level targets to count hash bins (0: chosen by
// the number of targets, repoconfig.Bins.BinCount) signed by the targets
// keys, moves every top-level target (and imported ones, already in the
// target store: MigrateOptions.Import) into its bin and signs a version
// index for every model. The writes are declared by declare.
func (r *Repository) migrate(t *tx, kr keys.Keyring, count int, imported map[string]*metadata.TargetFiles) (*migration, error) {
	st := t.st
	tr, err := rolesign.RoleOf(st.root, metadata.TARGETS)
	if err != nil {
		return nil, err
	}
	rs, err := signers(kr, metadata.TARGETS, tr)
	if err != nil {
		return nil, err
	}
	if count == 0 {
		count = r.cfg.Bins.BinCount(len(st.targets.Signed.Targets) + len(imported))
	}
	opts := delegation.Options{Bins: count, NamePrefix: BinsPrefix, Threshold: tr.Threshold}
	for _, id := range tr.KeyIDs {
		k := st.root.Signed.Keys[id]
		if k == nil {
			return nil, storedErr(metadata.ROOT, fmt.Errorf("targets key %s is not in the root's keys", keys.ShortID(id)))
		}
		opts.Keys = append(opts.Keys, k)
	}
	m, err := delegation.Migrate(st.targets, st.snapshot, opts, imported, r.targetStore().PutVersionIndex)
	if err != nil {
		return nil, err
	}
	return &migration{Migrated: m, ss: rs}, nil
}

// declare declares every bin's first version, signed by the targets keys.
func (mg *migration) declare(t *tx) {
	for _, name := range mg.Tree.Order {
		n := mg.Tree.Roles[name]
		t.writeRole(n, n.Meta, mg.ss)
	}
}

// versions are the bins' versions once declared.
func (mg *migration) versions() map[string]int64 {
	out := map[string]int64{}
	for name, n := range mg.Tree.Roles {
		out[name] = n.Meta.Signed.Version
	}
	return out
}

// useMigration makes d publish into the migration's bins (in memory);
// d.view keeps the targets as they were before (the version checks' view).
func (d *destination) useMigration(mg *migration) {
	d.mig, d.tree, d.bins, d.load = mg, mg.Tree, mg.Bins, nil
}

// addIndex stores the model's new version index and adds it to the
// publication's targets, in a publication into hash bins.
func (r *Repository) addIndex(d *destination, m *targets.Manifest, newTargets map[string]*metadata.TargetFiles) error {
	if d.bins == nil {
		return nil
	}
	tf, err := r.targetStore().PutVersionIndex(m.ModelID, delegation.IndexVersions(d.view.targets.Signed.Targets, m.ModelID, m.Version))
	if err != nil {
		return err
	}
	newTargets[targets.VersionIndexPath(m.ModelID)] = tf
	return nil
}

// migrateFirst moves top-level targets into new bins before a
// publication adds to them (the configured threshold is passed): d then
// publishes into the bins, its view kept as it was.
func (r *Repository) migrateFirst(t *tx, d *destination, kr keys.Keyring) error {
	view := *d.view
	before := *view.targets
	view.targets = &before
	d.view = &view
	mg, err := r.migrate(t, kr, r.cfg.Bins.Count, nil)
	if err != nil {
		return err
	}
	d.useMigration(mg)
	return nil
}

// paths are the target paths a publication writes: its files' (package
// release), and the model's version index in hash bins.
func (d *destination) paths(m *targets.Manifest, files []string, bases []release.Base) []string {
	out := release.Paths(m, files, bases)
	if d.bins != nil {
		out = append(out, targets.VersionIndexPath(m.ModelID))
	}
	return out
}

// MigrateOptions tune MigrateBins.
type MigrateOptions struct {
	// Count is the number of bins (0: the configured count, or chosen by
	// the number of targets).
	Count int
	// Threshold, if set, is recorded in mrepo.json as the bins threshold
	// (a repository made before bins existed has none).
	Threshold int
	// Import are more targets, their files already in the target store
	// (targetstore.Store), signed into the bins with the moved ones: how
	// bench/genrepo makes a large repository in one publication. Nothing
	// checks them beyond what verify checks.
	Import map[string]*metadata.TargetFiles
}

// MigrateResult reports a migration.
type MigrateResult struct {
	Bins       int      `json:"bins"`
	NamePrefix string   `json:"name_prefix"`
	Moved      int      `json:"targets_moved"`
	Models     int      `json:"models"`
	Versions   Versions `json:"metadata_versions"`
}

// MigrateBins moves every top-level target of the repository into new
// succinct hash bins signed by the targets keys from kr, with a version
// index for every model, in one publication: devices follow without
// re-imaging (their next refresh finds the targets in the bins).
func (r *Repository) MigrateBins(kr keys.Keyring, opts MigrateOptions) (*MigrateResult, error) {
	if err := repoconfig.CheckBinsCount(opts.Count, true); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDelegation, err)
	}
	if opts.Threshold < 0 {
		return nil, fmt.Errorf("%w: bins threshold %d", ErrDelegation, opts.Threshold)
	}
	res := &MigrateResult{NamePrefix: BinsPrefix}
	v, err := r.update(r.load, func(t *tx) error {
		ss, err := gatherSigners(t.st, kr, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
		if err != nil {
			return err
		}
		count := opts.Count
		if count == 0 && r.cfg.Bins != nil {
			count = r.cfg.Bins.Count
		}
		mg, err := r.migrate(t, kr, count, opts.Import)
		if err != nil {
			return err
		}
		_, res.Bins = mg.Bins.GetSuffixLen()
		res.Moved = mg.Moved
		res.Models = mg.Models
		mg.declare(t)
		t.publish(ss, metadata.TARGETS)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Versions = *v
	// Every model now has an index: recorded, with the threshold.
	b := repoconfig.DefaultBins()
	if r.cfg.Bins != nil {
		*b = *r.cfg.Bins
		b.Indexed = true
	}
	if opts.Threshold > 0 {
		b.Threshold = opts.Threshold
	}
	cfg := *r.cfg
	cfg.Bins = b
	if err := writeConfig(r.fs, r.dir, &cfg); err != nil {
		return nil, fmt.Errorf("migrated, but recording it in %s failed (publications of new models read every bin until it is): %w", ConfigFile, err)
	}
	r.cfg = &cfg
	return res, nil
}

// overThreshold reports whether publishing n more targets into top-level
// targets goes past the configured bins threshold, so that add-target
// migrates first.
func (r *Repository) overThreshold(st *state, n int) bool {
	_, delegates := delegation.Delegates(st.targets.Signed.Delegations)
	return r.cfg.Bins != nil && !delegates && len(st.targets.Signed.Targets)+n > r.cfg.Bins.Threshold
}
