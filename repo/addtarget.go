package repo

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sort"

	"filippo.io/age/tag"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/release"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
)

// AddOptions tune AddTarget.
type AddOptions struct {
	// Progress, if set, is called as each payload file is copied (several
	// files at once: calls for different files interleave, one at a
	// time), and as
	// each patch is computed (file is then "delta <file> from <base>" and
	// done/total count the bytes of the new file diffed so far).
	Progress func(file string, done, total int64)
	// DeltaFrom lists published versions of the same model, older than the
	// new one, to compute patches from: for each payload file that also
	// exists in a base version, a patch that rebuilds the new file from the
	// base's is published as a target of its own (targets.DeltaPath) and
	// listed in the manifest target's custom metadata.
	DeltaFrom []string
	// DeltaMinSaving is the share of the file's bytes a patch must save to
	// be published: a patch is published only when its length is at most
	// (1-DeltaMinSaving) times the file's. 0 means
	// targetstore.DefaultDeltaMinSaving;
	// otherwise it must be strictly between 0 and 1.
	DeltaMinSaving float64
	// DeltaFastApply: patches without adaptive blocks (delta.Options.FastApply).
	DeltaFastApply bool
	// Role, if set, publishes into that delegated targets role (mrepo
	// delegate), signed with the role's keys instead of the targets key:
	// every target path must be one the role is delegated. Without it, a
	// repository whose targets delegates to hash bins publishes each
	// target into its bin.
	Role string
	// Rollout and Policy, if set, are the new version's signed rollout
	// control and download policy (package rollout: Set, SetPolicy): it is
	// published already staged. A rollout without a salt gets a random
	// one; 100% without device classes or start is no rollout.
	Rollout *targets.Rollout
	Policy  *targets.Policy
	// Logger, if set, gets a debug record for each file stored, each
	// patch computed and the metadata signed (nil: none).
	Logger *slog.Logger
	// Encrypt, if set, publishes the version encrypted (encrypt.go).
	Encrypt *EncryptOptions
	// ContentKeys opens the content key store, called only if a key is
	// needed (Encrypt, an encrypted delta base), after the other checks.
	ContentKeys func() (release.KeyStore, error)
}

// PublishedTarget is one target written by AddTarget.
type PublishedTarget struct {
	Path   string `json:"path"`
	Length int64  `json:"length"`
	SHA256 string `json:"sha256"`
}

// AddResult reports a publication.
type AddResult struct {
	ModelID string                    `json:"model_id"`
	Version string                    `json:"version"`
	Targets []PublishedTarget         `json:"targets"`
	Deltas  []targetstore.DeltaResult `json:"deltas,omitempty"`
	// Reused lists the payload files whose bytes were already published
	// for the model (any version, any name): they are stored as links to
	// the stored file, not as a second copy.
	Reused   []targetstore.Reused `json:"reused,omitempty"`
	Versions Versions             `json:"metadata_versions"`
	Warnings []string             `json:"warnings,omitempty"`
	// Epoch is the version's rollback epoch (release.AssignEpoch), signed
	// in its manifest target's custom metadata.
	Epoch uint64 `json:"epoch"`
	// Rollout and Policy are the version's signed controls (AddOptions).
	Rollout *targets.Rollout `json:"rollout,omitempty"`
	Policy  *targets.Policy  `json:"policy,omitempty"`

	// Role is the delegated role published into (AddOptions.Role);
	// RoleVersions the delegated roles (or hash bins) signed, by version.
	Role         string           `json:"role,omitempty"`
	RoleVersions map[string]int64 `json:"role_versions,omitempty"`

	// Encrypted is the version's signed encryption (AddOptions.Encrypt);
	// Envelopes the key envelopes published with it (delivery fleet: 1).
	Encrypted *targets.Encryption `json:"encrypted,omitempty"`
	Envelopes int                 `json:"envelopes,omitempty"`
}

// AddTarget publishes the model bundle in bundleDir: every payload file and
// the completed manifest become targets under models/<model_id>/<version>/,
// the manifest's compatibility fields are copied into the signed custom
// metadata, and targets, snapshot and timestamp are re-signed with keys
// from kr. Each file is read once, hashed while it is copied.
//
// With opts.DeltaFrom, each payload file that a listed base version also
// has gets a patch (package delta) from the base's stored file, published
// as a target of its own at targets.DeltaPath when it saves at least
// opts.DeltaMinSaving of the file's bytes, and listed in the manifest
// target's custom metadata (deltas). Every patch is computed, checked
// (it must apply to the base and rebuild the new file) and stored before
// any metadata is written; the result lists each one, published or not.
//
// Nothing is published if the bundle is invalid, the version exists or is
// not newer than the latest published version of the model, a delta base
// is not an older published version, or the keys cannot meet a threshold;
// those checks run before any file is copied.
func (r *Repository) AddTarget(bundleDir string, kr keys.Keyring, opts AddOptions) (*AddResult, error) {
	policy, err := checkDeltaOptions(&opts)
	if err != nil {
		return nil, err
	}
	if opts.Rollout, err = rollout.Prepare(opts.Rollout, opts.Policy); err != nil {
		return nil, err
	}
	b, err := targetstore.ReadBundle(r.fs, bundleDir)
	if err != nil {
		return nil, err
	}
	m := b.Manifest
	res := &AddResult{ModelID: m.ModelID, Version: m.Version, Warnings: b.Warnings, Role: opts.Role}
	v, err := r.update(r.load, func(t *tx) error { return r.addTarget(t, b, kr, opts, policy, res) })
	if err != nil {
		return nil, err
	}
	res.Versions = *v
	log := logger(opts.Logger)
	for role, rv := range res.RoleVersions {
		log.Debug("signed", "role", role, "version", rv)
	}
	log.Debug("signed", "targets", v.Targets, "snapshot", v.Snapshot, "timestamp", v.Timestamp)
	return res, nil
}

// addTarget checks a publication, stores its target files and declares
// the metadata to sign.
func (r *Repository) addTarget(t *tx, b *targetstore.Bundle, kr keys.Keyring, opts AddOptions, policy targetstore.DeltaPolicy, res *AddResult) error {
	m, st := b.Manifest, t.st
	if err := r.removeStaleOf(m.ModelID); err != nil {
		return err
	}
	// Into hash bins, the keys first: see signersFirst.
	first, err := signersFirst(st, kr, opts.Role)
	if err != nil {
		return err
	}
	// Delegated roles and hash bins (delegate_add.go): the checks see the
	// targets of every role as clients resolve them.
	dst, err := r.destination(st, opts.Role, m, release.Paths(m, b.Files, nil), opts.DeltaFrom)
	if err != nil {
		return err
	}
	dst.first = first
	if err := release.CheckNewVersion(dst.view.targets.Signed.Targets, m); err != nil {
		return err
	}
	nv, err := targets.ParseVersion(m.Version)
	if err != nil {
		return err
	}
	if res.Epoch, err = release.AssignEpoch(dst.view.targets.Signed.Targets, m.ModelID, nv); err != nil {
		return err
	}
	rbases, bases, err := deltaBases(dst.view, m, opts.DeltaFrom)
	if err != nil {
		return err
	}
	if opts.Role == "" && r.overThreshold(st, len(b.Files)+1) {
		if err := r.migrateFirst(t, dst, kr); err != nil {
			return err
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf("targets moved into hash bins %s-* (more than %d in top-level targets): devices follow on their next refresh", BinsPrefix, r.cfg.Bins.Threshold))
	}
	if err := dst.checkPaths(dst.paths(m, b.Files, rbases)); err != nil {
		return err
	}
	ss, err := dst.signers(r, st, kr)
	if err != nil {
		return err
	}
	// Content keys last: a passphrase prompt only once the rest is known good.
	enc, err := encryption(dst.view.targets.Signed.Targets, m, bases, rbases, opts)
	if err != nil {
		return err
	}
	if enc != nil {
		res.Encrypted = &targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: enc.Key.Recipient(), Delivery: opts.Encrypt.Delivery}
	}

	// A refused bundle changes nothing: if copying fails (a file whose size
	// or SHA-256 contradicts the manifest, say), remove the target
	// directories this call created, with whatever was copied into them.
	store := r.targetStore()
	publishing := false
	undo := store.UndoNewDirs(targets.TargetDir(m.ModelID, m.Version))
	defer func() {
		if !publishing {
			undo()
		}
	}()

	// Files already published for the model, by content, from the signed
	// metadata: one with the same bytes is linked, not stored again.
	pub := targetstore.PublishedFiles(dst.view.targets.Signed.Targets, m.ModelID)
	newTargets, entries, reused, err := store.PutPayloads(b, pub, enc, opts.Progress)
	if err != nil {
		return err
	}
	res.Reused = reused
	for _, e := range entries {
		tf := newTargets[targets.TargetPath(m.ModelID, m.Version, e.Path)]
		logger(opts.Logger).Debug("stored", "file", e.Path, "target", tf.Path, "bytes", tf.Length, "sha256", hex.EncodeToString(tf.Hashes["sha256"]))
	}

	// Patches from the base versions, computed from the stored (signed)
	// base files to the files just stored, before any metadata is written.
	deltaResults, deltaRefs, err := store.PutDeltas(m, b.Files, bases, policy, newTargets, enc, opts.Progress)
	if err != nil {
		return err
	}
	res.Deltas = deltaResults
	for _, d := range deltaResults {
		logger(opts.Logger).Debug("delta", "file", d.File, "base", d.Base, "bytes", d.Length, "percent", d.Percent, "published", d.Published, "reason", d.Reason)
	}

	// The completed manifest: hashes and sizes as copied, build timestamp.
	published := *m
	published.SchemaVersion = targets.SchemaVersion
	published.Files = entries
	if published.BuildTimestamp == "" {
		published.BuildTimestamp = r.Now().UTC().Format(targets.TimeFormat)
	}
	if res.Encrypted != nil {
		published.Encrypted, published.Critical = res.Encrypted, []string{targets.FieldEncrypted}
	}
	mbytes, err := published.MarshalPublished()
	if err != nil {
		return err
	}
	mpath := targets.ManifestPath(m.ModelID, m.Version)
	mtf, err := store.Put(mpath, bytes.NewReader(mbytes), nil, nil)
	if err != nil {
		return err
	}
	mc := targets.ManifestCustom(&published)
	mc.Deltas = deltaRefs
	mc.Epoch = res.Epoch
	mc.SetControls(opts.Rollout, nil, opts.Policy)
	res.Rollout, res.Policy = opts.Rollout, opts.Policy
	if mtf.Custom, err = mc.Marshal(); err != nil {
		return err
	}
	newTargets[mpath] = mtf
	if opts.Encrypt != nil && opts.Encrypt.FleetRecipient != nil {
		// The fleet's envelope, before the version becomes visible.
		if res.Envelopes, err = store.PutEnvelopes(m.ModelID, m.Version, []*tag.Recipient{opts.Encrypt.FleetRecipient}, enc.Key); err != nil {
			return err
		}
	}

	if err := r.addIndex(dst, m, newTargets); err != nil {
		return err
	}
	for p, tf := range newTargets {
		res.Targets = append(res.Targets, PublishedTarget{Path: p, Length: tf.Length, SHA256: hex.EncodeToString(tf.Hashes["sha256"])})
	}
	sort.Slice(res.Targets, func(i, j int) bool { return res.Targets[i].Path < res.Targets[j].Path })
	publishing = true // from here on, metadata may already point at the new files
	res.RoleVersions = dst.commit(t, ss, newTargets)
	return nil
}
