package rollout

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Errors of the rollout control operations, wrapped with details. A
// malformed rollout, revocation or policy (a percent out of range, an
// invalid salt, device class or time, a missing reason) is
// targets.ErrControl.
var (
	// ErrNotPublished: the model has no such published version (or no
	// published version at all).
	ErrNotPublished = errors.New("version not published")
	// ErrAlreadyRevoked: revoke of a version that is revoked already.
	ErrAlreadyRevoked = errors.New("version already revoked")
	// ErrNotRevoked: unrevoke of a version that is not revoked.
	ErrNotRevoked = errors.New("version not revoked")
	// ErrLastVersion: revoking the version would leave the model without
	// a non-revoked version (RevokeOptions.AllowNoModel allows it).
	ErrLastVersion = errors.New("refusing to revoke the last non-revoked version")
)

// SaltLength is the length in hex digits of the cohort salt picked for a
// version's first rollout.
const SaltLength = 16

// Version is a published version whose controls a Change edits: Custom
// is a copy of its manifest target's custom metadata, Others the model's
// other published versions, Now the time of the change. A Change appends
// what the operator should know to Warnings.
type Version struct {
	ModelID, Version string
	Custom           targets.Custom
	Others           []Other
	Now              time.Time
	Warnings         []string
}

// Other is another published version of the same model, with its
// revocation (nil: not revoked). Refused is set when its custom metadata
// does not parse: devices refuse such a version (and verify reports it),
// so it never counts as one they could fall back to.
type Other struct {
	Version string
	Revoked *targets.Revocation
	Refused bool
}

// Others lists the model's other published versions in the targets
// devices see (every role's, as they resolve them), each with its
// revocation, or Refused when its custom metadata does not parse.
func Others(view map[string]*metadata.TargetFiles, modelID, version string) []Other {
	var out []Other
	for _, v := range targets.PublishedVersions(view)[modelID] {
		if v.String() == version {
			continue
		}
		o := Other{Version: v.String()}
		mp := targets.ManifestPath(modelID, v.String())
		if c, err := targets.ParseCustom(mp, view[mp].Custom); err == nil {
			o.Revoked = c.Revoked
		} else {
			o.Refused = true
		}
		out = append(out, o)
	}
	return out
}

// NotPublished is the error for modelID@version missing from the targets
// devices see (view), naming the published versions; blocked is the role
// at which devices' lookup of it stops for want of metadata ("": none).
func NotPublished(view map[string]*metadata.TargetFiles, modelID, version, blocked string) error {
	vs := targets.PublishedVersions(view)[modelID]
	if len(vs) == 0 {
		return fmt.Errorf("%w: model %s has no published version", ErrNotPublished, modelID)
	}
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.String()
	}
	hint := ""
	if blocked != "" {
		hint = fmt.Sprintf("; devices looking it up stop at role %s, which has no metadata yet", blocked)
	}
	return fmt.Errorf("%w: %s %s (published: %s)%s", ErrNotPublished, modelID, version, strings.Join(names, ", "), hint)
}

// Change is one control operation on a version's controls.
type Change func(v *Version) error

// SetOptions is a staged rollout to set (Set).
type SetOptions struct {
	// BasisPoints admitted out of targets.Buckets (10000 = 100%, a full
	// release: see Set).
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

// Set sets the staged rollout of a version: only devices whose cohort
// bucket is below opts.BasisPoints (and of a listed device class, from
// the start time, if set) take it. Raising the percentage with the same
// salt only adds devices; lowering it (or a halt) stops devices that do
// not have the version from taking it, while those that run it keep it.
// A halt is lifted: the rollout has no halt reason after Set.
//
// 100% (targets.Buckets) without device classes or a start time is a full
// release: the rollout control is removed, so the version's metadata is
// that of a version published without one (and a later rollout picks a
// new salt unless opts.Salt is given). With device classes or a start
// time, it is kept at 100%.
func Set(opts SetOptions) Change {
	return func(v *Version) error {
		c := &v.Custom
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
		if fullRelease(ro) {
			c.Rollout = nil
		} else {
			if err := pickSalt(ro); err != nil {
				return err
			}
			c.Rollout = ro
		}
		if c.Revoked != nil {
			v.Warnings = append(v.Warnings, fmt.Sprintf("%s %s is revoked: no device takes it until it is unrevoked", v.ModelID, v.Version))
		}
		return nil
	}
}

// Halt stops the rollout of a version: no device that does not have the
// version takes it (0%, with reason recorded), while devices that run it
// keep it (revoke it to take it away). The salt, device classes and start
// time are kept, so Set resumes with the same cohorts. An empty reason is
// refused before any metadata is read.
func Halt(reason string) (Change, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, fmt.Errorf("%w: a halt needs a reason", targets.ErrControl)
	}
	return func(v *Version) error {
		ro := &targets.Rollout{HaltReason: reason}
		if cur := v.Custom.Rollout; cur != nil {
			ro.Salt, ro.DeviceClasses, ro.Start = cur.Salt, cur.DeviceClasses, cur.Start
		} else if err := pickSalt(ro); err != nil {
			return err
		}
		v.Custom.Rollout = ro
		return nil
	}, nil
}

// Revoke is the kill switch for a version: devices never select it,
// discard it if downloaded or staged, and step down from it if they run
// it (docs/rollout.md). It records opts.Reason and the time of the
// change. It is refused if the version is revoked already, or if every
// other version of the model is revoked (or there is none), unless
// opts.AllowNoModel. An empty reason is refused before any metadata is
// read.
func Revoke(opts RevokeOptions) (Change, error) {
	if strings.TrimSpace(opts.Reason) == "" {
		return nil, fmt.Errorf("%w: a revocation needs a reason", targets.ErrControl)
	}
	return func(v *Version) error {
		c := &v.Custom
		if c.Revoked != nil {
			return fmt.Errorf("%w: %s %s was revoked at %s: %s", ErrAlreadyRevoked, v.ModelID, v.Version, c.Revoked.Time, c.Revoked.Reason)
		}
		live := slices.ContainsFunc(v.Others, func(o Other) bool { return o.Revoked == nil && !o.Refused })
		if !live {
			what := "it is the only published version"
			switch {
			case slices.ContainsFunc(v.Others, func(o Other) bool { return o.Refused }):
				what = "every other version is revoked or refused by devices (mrepo verify says why)"
			case len(v.Others) > 0:
				what = "every other version is revoked"
			}
			if !opts.AllowNoModel {
				return fmt.Errorf("%w of %s: %s, so devices would be left without the model (--allow-no-model to do it anyway)", ErrLastVersion, v.ModelID, what)
			}
			v.Warnings = append(v.Warnings, fmt.Sprintf("%s has no non-revoked version left (%s): devices running %s remove it and have no model %s", v.ModelID, what, v.Version, v.ModelID))
		}
		c.Revoked = &targets.Revocation{Reason: opts.Reason, Time: v.Now.UTC().Truncate(time.Second).Format(time.RFC3339)}
		return nil
	}, nil
}

// Unrevoke lifts the revocation of a version (itself a signed change):
// devices may take it again, as its rollout (kept as it was) allows.
func Unrevoke() Change {
	return func(v *Version) error {
		if v.Custom.Revoked == nil {
			return fmt.Errorf("%w: %s %s", ErrNotRevoked, v.ModelID, v.Version)
		}
		v.Custom.Revoked = nil
		return nil
	}
}

// SetPolicy sets (nil: removes) the signed download policy of a version:
// conditions a device's state must meet before it downloads the version.
func SetPolicy(p *targets.Policy) Change {
	return func(v *Version) error {
		v.Custom.Policy = p
		return nil
	}
}

// SetExactly sets every control of a version exactly as given (nil
// removes one), with none of the rules of the other operations (salt
// kept, last-version check): for tools and tests that need a precise
// state.
func SetExactly(ro *targets.Rollout, rev *targets.Revocation, p *targets.Policy) Change {
	return func(v *Version) error {
		v.Custom.Rollout, v.Custom.Revoked, v.Custom.Policy = ro, rev, p
		return nil
	}
}

// Apply runs change on v (whose Custom must be a copy the caller may
// edit) and checks the result as a device will: it returns the version's
// new custom metadata, to sign as its manifest target's (at mpath). The
// controls as changed are in v.Custom.
func Apply(v *Version, mpath string, change Change) (*json.RawMessage, error) {
	c := &v.Custom
	c.Critical = slices.Clone(c.Critical)
	if err := change(v); err != nil {
		return nil, err
	}
	c.SetControls(c.Rollout, c.Revoked, c.Policy)
	raw, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	if err := Check(c.Rollout, c.Policy); err != nil {
		return nil, fmt.Errorf("%s %s: %w", v.ModelID, v.Version, err)
	}
	if _, err := targets.ParseCustom(mpath, raw); err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", targets.ErrControl, v.ModelID, v.Version, err)
	}
	return raw, nil
}

// Prepare completes and checks the controls a new version is published
// with: a rollout without a salt gets a random one, and a rollout of 100%
// without device classes, start or halt is no rollout (a full release),
// as Set does. ro is not modified.
func Prepare(ro *targets.Rollout, p *targets.Policy) (*targets.Rollout, error) {
	if ro != nil {
		if fullRelease(ro) && ro.HaltReason == "" {
			ro = nil
		} else if ro.Salt == "" {
			cp := *ro
			if err := pickSalt(&cp); err != nil {
				return nil, err
			}
			ro = &cp
		}
	}
	return ro, Check(ro, p)
}

// Check validates a rollout and a policy (nil: none) with the checks a
// device makes, for a message that names the field.
func Check(ro *targets.Rollout, p *targets.Policy) error {
	if ro != nil {
		if err := ro.Validate(); err != nil {
			return fmt.Errorf("%w: %v", targets.ErrControl, err)
		}
	}
	if p != nil {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("%w: %v", targets.ErrControl, err)
		}
	}
	return nil
}

// fullRelease: 100% with no device class or start time limit.
func fullRelease(ro *targets.Rollout) bool {
	return ro.BasisPoints == targets.Buckets && len(ro.DeviceClasses) == 0 && ro.Start == ""
}

// pickSalt gives ro a fresh cohort salt if it has none: SaltLength hex
// digits from crypto/rand.
func pickSalt(ro *targets.Rollout) error {
	if ro.Salt != "" {
		return nil
	}
	b := make([]byte, SaltLength/2)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("cohort salt: %w", err)
	}
	ro.Salt = hex.EncodeToString(b)
	return nil
}
