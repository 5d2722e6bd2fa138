package repo

// Rollout control (docs/rollout.md): a version's staged rollout, its
// revocation (the kill switch) and its download policy are signed fields
// of its manifest target's custom metadata (targets.Custom). Changing one
// re-signs the role that signs that manifest target (top-level targets, a
// delegated role or a hash bin, found as a device's lookup finds it), then
// snapshot and timestamp, through the one write path (update.go). No
// target file is written, moved or read: the payload stays as published.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Errors of the rollout control operations, wrapped with details.
var (
	// ErrNotPublished: the model has no such published version (or no
	// published version at all).
	ErrNotPublished = errors.New("version not published")
	// ErrControl: a rollout, revocation or policy is malformed (a percent
	// out of range, an invalid salt, device class or time, a missing
	// reason). It is targets.ErrControl.
	ErrControl = targets.ErrControl
	// ErrAlreadyRevoked: revoke of a version that is revoked already.
	ErrAlreadyRevoked = errors.New("version already revoked")
	// ErrNotRevoked: unrevoke of a version that is not revoked.
	ErrNotRevoked = errors.New("version not revoked")
	// ErrLastVersion: revoking the version would leave the model without
	// a non-revoked version (RevokeOptions.AllowNoModel allows it).
	ErrLastVersion = errors.New("refusing to revoke the last non-revoked version")
)

// SaltLength is the length in hex digits of the cohort salt mrepo picks
// for a version's first rollout.
const SaltLength = 16

// ControlResult reports a version's controls after a change, and what was
// signed.
type ControlResult struct {
	ModelID string              `json:"model_id"`
	Version string              `json:"version"`
	Rollout *targets.Rollout    `json:"rollout,omitempty"`
	Revoked *targets.Revocation `json:"revoked,omitempty"`
	Policy  *targets.Policy     `json:"policy,omitempty"`
	// Role signs the version's manifest target: "targets" or a delegated
	// role (a hash bin's name); RoleVersion is the version it got.
	Role        string   `json:"role"`
	RoleVersion int64    `json:"role_version"`
	Versions    Versions `json:"metadata_versions"`
	Warnings    []string `json:"warnings,omitempty"`
}

// RolloutOptions is a staged rollout to set (SetRollout).
type RolloutOptions struct {
	// BasisPoints admitted out of targets.Buckets (10000 = 100%, a full
	// release: see SetRollout).
	BasisPoints int
	// Salt, if set, replaces the version's cohort salt; otherwise the
	// current one is kept, or a random one (SaltLength hex digits) is
	// picked for the version's first rollout.
	Salt string
	// DeviceClasses, if not nil, replaces the classes the rollout is
	// limited to; ClearDeviceClasses removes the limit. Neither: kept.
	DeviceClasses      []string
	ClearDeviceClasses bool
	// Start (RFC 3339, UTC), if set, replaces the earliest time devices
	// take the version; ClearStart removes it. Neither: kept.
	Start      string
	ClearStart bool
}

// RevokeOptions tune Revoke.
type RevokeOptions struct {
	// Reason is recorded in the signed revocation (required).
	Reason string
	// AllowNoModel revokes the model's last non-revoked version, which
	// leaves devices without any version of the model.
	AllowNoModel bool
}

// SetRollout sets the staged rollout of modelID@version: only devices
// whose cohort bucket is below opts.BasisPoints (and of a listed device
// class, from the start time, if set) take it. Raising the percentage
// with the same salt only adds devices; lowering it (or a halt) stops
// devices that do not have the version from taking it, while those that
// run it keep it. A halt is lifted: the rollout has no halt reason after
// SetRollout.
//
// 100% (targets.Buckets) without device classes or a start time is a full
// release: the rollout control is removed, so the version's metadata is
// that of a version published without one (and a later rollout picks a
// new salt unless opts.Salt is given). With device classes or a start
// time, it is kept at 100%.
func (r *Repository) SetRollout(modelID, version string, kr keys.Keyring, opts RolloutOptions) (*ControlResult, error) {
	return r.changeControls(modelID, version, kr, func(c *targets.Custom, res *ControlResult) error {
		ro := &targets.Rollout{BasisPoints: opts.BasisPoints, Salt: opts.Salt}
		if cur := c.Rollout; cur != nil {
			if ro.Salt == "" {
				ro.Salt = cur.Salt
			}
			ro.DeviceClasses, ro.Start = cur.DeviceClasses, cur.Start
		}
		if opts.DeviceClasses != nil || opts.ClearDeviceClasses {
			ro.DeviceClasses = opts.DeviceClasses
		}
		if opts.Start != "" || opts.ClearStart {
			ro.Start = opts.Start
		}
		if len(ro.DeviceClasses) == 0 {
			ro.DeviceClasses = nil
		}
		if ro.BasisPoints == targets.Buckets && len(ro.DeviceClasses) == 0 && ro.Start == "" {
			c.Rollout = nil // a full release
		} else {
			if ro.Salt == "" {
				var err error
				if ro.Salt, err = randomSalt(); err != nil {
					return err
				}
			}
			c.Rollout = ro
		}
		if c.Revoked != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s %s is revoked: no device takes it until it is unrevoked", modelID, version))
		}
		return nil
	})
}

// HaltRollout stops the rollout of modelID@version: no device that does
// not have the version takes it (0%, with reason recorded), while devices
// that run it keep it (revoke it to take it away). The salt, device
// classes and start time are kept, so SetRollout resumes with the same
// cohorts.
func (r *Repository) HaltRollout(modelID, version, reason string, kr keys.Keyring) (*ControlResult, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, fmt.Errorf("%w: a halt needs a reason", ErrControl)
	}
	return r.changeControls(modelID, version, kr, func(c *targets.Custom, res *ControlResult) error {
		ro := &targets.Rollout{HaltReason: reason}
		if cur := c.Rollout; cur != nil {
			ro.Salt, ro.DeviceClasses, ro.Start = cur.Salt, cur.DeviceClasses, cur.Start
		} else {
			var err error
			if ro.Salt, err = randomSalt(); err != nil {
				return err
			}
		}
		c.Rollout = ro
		return nil
	})
}

// Revoke is the kill switch for modelID@version: devices never select it,
// discard it if downloaded or staged, and step down from it if they run
// it (docs/rollout.md). It is refused if the version is revoked already,
// or if every other version of the model is revoked (or there is none),
// unless opts.AllowNoModel.
func (r *Repository) Revoke(modelID, version string, kr keys.Keyring, opts RevokeOptions) (*ControlResult, error) {
	if strings.TrimSpace(opts.Reason) == "" {
		return nil, fmt.Errorf("%w: a revocation needs a reason", ErrControl)
	}
	return r.changeControlsOf(modelID, version, kr, func(ref *versionRef, c *targets.Custom, res *ControlResult) error {
		if c.Revoked != nil {
			return fmt.Errorf("%w: %s %s was revoked at %s: %s", ErrAlreadyRevoked, modelID, version, c.Revoked.Time, c.Revoked.Reason)
		}
		others := ref.otherVersions()
		var live []string
		for _, o := range others {
			if o.revoked == nil {
				live = append(live, o.version)
			}
		}
		if len(live) == 0 {
			what := "it is the only published version"
			if len(others) > 0 {
				what = "every other version is revoked"
			}
			if !opts.AllowNoModel {
				return fmt.Errorf("%w of %s: %s, so devices would be left without the model (--allow-no-model to do it anyway)", ErrLastVersion, modelID, what)
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s has no non-revoked version left (%s): devices running %s remove it and have no model %s", modelID, what, version, modelID))
		}
		c.Revoked = &targets.Revocation{Reason: opts.Reason, Time: r.Now().UTC().Truncate(time.Second).Format(time.RFC3339)}
		return nil
	})
}

// Unrevoke lifts the revocation of modelID@version (itself a signed
// change): devices may take it again, as its rollout (kept as it was)
// allows.
func (r *Repository) Unrevoke(modelID, version string, kr keys.Keyring) (*ControlResult, error) {
	return r.changeControls(modelID, version, kr, func(c *targets.Custom, res *ControlResult) error {
		if c.Revoked == nil {
			return fmt.Errorf("%w: %s %s", ErrNotRevoked, modelID, version)
		}
		c.Revoked = nil
		return nil
	})
}

// SetPolicy sets (nil: removes) the signed download policy of
// modelID@version: conditions a device's state must meet before it
// downloads the version.
func (r *Repository) SetPolicy(modelID, version string, kr keys.Keyring, p *targets.Policy) (*ControlResult, error) {
	return r.changeControls(modelID, version, kr, func(c *targets.Custom, res *ControlResult) error {
		c.Policy = p
		return nil
	})
}

// SetControls sets every control of modelID@version exactly as given (nil
// removes one), with none of the rules of the other operations (salt
// kept, last-version check): for tools and tests that need a precise
// state. It is signed and published like the others.
func (r *Repository) SetControls(modelID, version string, kr keys.Keyring, ro *targets.Rollout, rev *targets.Revocation, p *targets.Policy) (*ControlResult, error) {
	return r.changeControls(modelID, version, kr, func(c *targets.Custom, res *ControlResult) error {
		c.Rollout, c.Revoked, c.Policy = ro, rev, p
		return nil
	})
}

// randomSalt is a fresh cohort salt: SaltLength hex digits from
// crypto/rand.
func randomSalt() (string, error) {
	b := make([]byte, SaltLength/2)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("cohort salt: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// prepareControls completes and checks the controls of AddOptions before a
// publication starts: a rollout without a salt gets a random one, and a
// rollout of 100% without device classes or start is no rollout (a full
// release), as SetRollout does.
func prepareControls(opts *AddOptions) error {
	if ro := opts.Rollout; ro != nil {
		if ro.BasisPoints == targets.Buckets && len(ro.DeviceClasses) == 0 && ro.Start == "" && ro.HaltReason == "" {
			opts.Rollout = nil
		} else if ro.Salt == "" {
			cp := *ro
			var err error
			if cp.Salt, err = randomSalt(); err != nil {
				return err
			}
			opts.Rollout = &cp
		}
	}
	return checkControls(opts.Rollout, opts.Policy)
}

// checkControls validates a rollout and a policy (nil: none) with the
// checks a device makes, for a message that names the field.
func checkControls(ro *targets.Rollout, p *targets.Policy) error {
	if ro != nil {
		if err := ro.Validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrControl, err)
		}
	}
	if p != nil {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrControl, err)
		}
	}
	return nil
}

// versionRef is a published version as devices resolve its manifest
// target: the entry, the role that signs it and its custom metadata.
type versionRef struct {
	modelID, version string
	mpath            string
	tf               *metadata.TargetFiles // the entry in its role's metadata
	custom           *targets.Custom
	node             *delegation.Role // the delegated role that signs it; nil: top-level targets
	tree             *delegation.Tree
	view             *metadata.Metadata[metadata.TargetsType] // every role's targets as devices resolve them
}

// otherVersion is another published version of the same model.
type otherVersion struct {
	version string
	revoked *targets.Revocation
}

// findVersion resolves modelID@version as a device's lookup does.
func (r *Repository) findVersion(st *state, modelID, version string) (*versionRef, error) {
	tree, err := r.loadTree(st)
	if err != nil {
		return nil, err
	}
	ref := &versionRef{modelID: modelID, version: version, mpath: targets.ManifestPath(modelID, version), tree: tree, view: tree.View()}
	res := tree.Resolve(ref.mpath)
	if res.Target == nil {
		vs := targets.PublishedVersions(ref.view.Signed.Targets)[modelID]
		if len(vs) == 0 {
			return nil, fmt.Errorf("%w: model %s has no published version", ErrNotPublished, modelID)
		}
		names := make([]string, len(vs))
		for i, v := range vs {
			names[i] = v.String()
		}
		hint := ""
		if res.Blocked != "" {
			hint = fmt.Sprintf("; devices looking it up stop at role %s, which has no metadata yet", res.Blocked)
		}
		return nil, fmt.Errorf("%w: %s %s (published: %s)%s", ErrNotPublished, modelID, version, strings.Join(names, ", "), hint)
	}
	ref.tf = res.Target
	if res.Role != metadata.TARGETS {
		ref.node = tree.Roles[res.Role]
	}
	if ref.custom, err = targets.ParseCustom(ref.mpath, res.Target.Custom); err != nil {
		return nil, storedErr(res.Role, err)
	}
	if ref.custom.Kind != targets.KindManifest {
		return nil, storedErr(res.Role, fmt.Errorf("%s is not a manifest target", ref.mpath))
	}
	return ref, nil
}

// otherVersions lists the model's other published versions, each with its
// revocation (an entry whose custom metadata does not parse counts as not
// revoked: verify reports it).
func (ref *versionRef) otherVersions() []otherVersion {
	var out []otherVersion
	for _, v := range targets.PublishedVersions(ref.view.Signed.Targets)[ref.modelID] {
		if v.String() == ref.version {
			continue
		}
		o := otherVersion{version: v.String()}
		mp := targets.ManifestPath(ref.modelID, v.String())
		if c, err := targets.ParseCustom(mp, ref.view.Signed.Targets[mp].Custom); err == nil {
			o.revoked = c.Revoked
		}
		out = append(out, o)
	}
	return out
}

// changeControls runs change on a copy of the version's custom metadata
// and publishes the result.
func (r *Repository) changeControls(modelID, version string, kr keys.Keyring, change func(c *targets.Custom, res *ControlResult) error) (*ControlResult, error) {
	return r.changeControlsOf(modelID, version, kr, func(_ *versionRef, c *targets.Custom, res *ControlResult) error {
		return change(c, res)
	})
}

// changeControlsOf is the one write of every control operation: under the
// writer lock, resolve the version, let change edit a copy of its custom
// metadata, check the result as a device will (targets.ParseCustom), gather
// the signers (the role that signs the manifest target, snapshot,
// timestamp) and declare the writes.
func (r *Repository) changeControlsOf(modelID, version string, kr keys.Keyring, change func(ref *versionRef, c *targets.Custom, res *ControlResult) error) (*ControlResult, error) {
	if _, err := targets.ParseVersion(version); err != nil {
		return nil, err
	}
	res := &ControlResult{ModelID: modelID, Version: version}
	v, err := r.update(r.load, func(t *tx) error {
		ref, err := r.findVersion(t.st, modelID, version)
		if err != nil {
			return err
		}
		c := *ref.custom
		c.Critical = slices.Clone(c.Critical)
		if err := change(ref, &c, res); err != nil {
			return err
		}
		c.SetControls(c.Rollout, c.Revoked, c.Policy)
		raw, err := c.Marshal()
		if err != nil {
			return err
		}
		if err := checkControls(c.Rollout, c.Policy); err != nil {
			return fmt.Errorf("%s %s: %w", modelID, version, err)
		}
		if _, err := targets.ParseCustom(ref.mpath, raw); err != nil {
			return fmt.Errorf("%w: %s %s: %v", ErrControl, modelID, version, err)
		}
		res.Rollout, res.Revoked, res.Policy = c.Rollout, c.Revoked, c.Policy
		if ref.node == nil {
			ss, err := gatherSigners(t.st, kr, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
			if err != nil {
				return err
			}
			ref.tf.Custom = raw
			res.Role = metadata.TARGETS
			t.publish(ss, metadata.TARGETS)
			return nil
		}
		n := ref.node
		if err := ref.tree.CheckSigned(n); err != nil {
			return err
		}
		name := n.Name
		if n.Bins != nil {
			name = n.Bins.NamePrefix + "-*"
		}
		rs, err := signers(kr, name, n.Keys())
		if err != nil {
			return err
		}
		ss, err := gatherSigners(t.st, kr, metadata.SNAPSHOT, metadata.TIMESTAMP)
		if err != nil {
			return err
		}
		ref.tf.Custom = raw
		res.Role = n.Name
		res.RoleVersion = t.writeRole(n, n.Meta, rs)
		t.publish(ss, metadata.SNAPSHOT)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Versions = *v
	if res.Role == metadata.TARGETS {
		res.RoleVersion = v.Targets
	}
	return res, nil
}
