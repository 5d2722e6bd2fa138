package testrepo

// Rollout controls for device tests: SetControls changes a version's
// signed controls with the repository's own code (repo.ChangeControls,
// what mrepo rollout/revoke/policy run), so the tests see exactly what a
// device sees in the field. ForgeControlsDir is the attacker's version:
// it edits the metadata directly and signs it with whatever signers it is
// given, which the repository code never does with a key the root does not
// trust.

import (
	"crypto/sha256"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ControlSigners sign what ForgeControlsDir publishes. A signer whose key
// the root does not trust for its role makes a forgery.
type ControlSigners struct {
	Targets, Snapshot, Timestamp signature.Signer
}

// SetControls sets (nil removes) the rollout, revocation and policy of
// modelID@version with repo.ChangeControls (rollout.SetExactly): re-signed by the role that signs
// the version (top-level targets or a delegated role, whose keys must be
// in r.Keys), then snapshot and timestamp.
func (r *Repo) SetControls(t testing.TB, modelID, version string, ro *targets.Rollout, rev *targets.Revocation, p *targets.Policy) {
	t.Helper()
	if _, err := r.R.ChangeControls(modelID, version, r.Keys, rollout.SetExactly(ro, rev, p)); err != nil {
		t.Fatalf("testrepo: set controls: %v", err)
	}
}

// Signers returns the repository's own signers for the online roles and
// targets.
func (r *Repo) Signers(t testing.TB) ControlSigners {
	t.Helper()
	root, err := metadata.Root().FromBytes(r.Root)
	if err != nil {
		t.Fatal(err)
	}
	signer := func(role string) signature.Signer {
		s, err := r.Keys.Signer(root.Signed.Roles[role].KeyIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return ControlSigners{Targets: signer(metadata.TARGETS), Snapshot: signer(metadata.SNAPSHOT), Timestamp: signer(metadata.TIMESTAMP)}
}

// ForgeControlsDir forges a control change in the repository in dir: it
// sets (nil removes) the controls of modelID@version, whose manifest
// target the top-level targets metadata lists, and writes the next targets
// and snapshot versions and a new timestamp signed with s, keeping their
// expiries, without any check of the keys. With the repository's own
// signers (Repo.Signers) it is what a holder of the stolen keys can do.
func ForgeControlsDir(dir, modelID, version string, ro *targets.Rollout, rev *targets.Revocation, p *targets.Policy, s ControlSigners) error {
	return ForgeCustomDir(dir, modelID, version, func(c *targets.Custom) { c.SetControls(ro, rev, p) }, s)
}

// ForgeCustomDir is ForgeControlsDir with any edit of the manifest
// target's custom metadata (a rollback epoch, in scripts that run before
// mrepo assigns one).
func ForgeCustomDir(dir, modelID, version string, edit func(*targets.Custom), s ControlSigners) error {
	return ForgeTargetsDir(dir, func(tg map[string]*metadata.TargetFiles) error {
		mp := targets.ManifestPath(modelID, version)
		tf := tg[mp]
		if tf == nil {
			return fmt.Errorf("%s is not listed by the top-level targets metadata", mp)
		}
		c, err := targets.ParseCustom(mp, tf.Custom)
		if err != nil {
			return err
		}
		edit(c)
		raw, err := c.Marshal()
		if err != nil {
			return err
		}
		if _, err := targets.ParseCustom(mp, raw); err != nil {
			return err
		}
		tf.Custom = raw
		return nil
	}, s)
}

// ForgeTargetsDir is ForgeCustomDir with any edit of the top-level
// targets metadata's targets (the files they name are the caller's to
// write).
func ForgeTargetsDir(dir string, edit func(map[string]*metadata.TargetFiles) error, s ControlSigners) error {
	return ForgeRoleDir(dir, metadata.TARGETS, edit, s)
}

// ForgeRoleDir is ForgeTargetsDir for the targets role named role (the
// top-level targets or a delegated role that has metadata): s.Targets
// signs the role's next version (the role's own key, or a forger's).
func ForgeRoleDir(dir, role string, edit func(map[string]*metadata.TargetFiles) error, s ControlSigners) error {
	return ForgeRolesDir(dir, []string{role}, func(_ string, tg map[string]*metadata.TargetFiles) error { return edit(tg) }, s)
}

// ForgeRolesDir is ForgeRoleDir for several roles at once (hash bins),
// all signed by s.Targets, with one new snapshot and timestamp.
func ForgeRolesDir(dir string, roles []string, edit func(role string, tg map[string]*metadata.TargetFiles) error, s ControlSigners) error {
	return ForgeRolesDirOpts(dir, roles, edit, s, false)
}

// ForgeRolesDirOpts is ForgeRolesDir; with versionOnly the snapshot
// records the roles by version alone (no length, no hashes), as mrepo does
// for 256 bins or more.
func ForgeRolesDirOpts(dir string, roles []string, edit func(role string, tg map[string]*metadata.TargetFiles) error, s ControlSigners, versionOnly bool) error {
	meta := func(name string) string { return filepath.Join(dir, "metadata", name) }
	ts, err := metadata.Timestamp().FromFile(meta("timestamp.json"))
	if err != nil {
		return err
	}
	sv := ts.Signed.Meta["snapshot.json"].Version
	snap, err := metadata.Snapshot().FromFile(meta(fmt.Sprintf("%d.snapshot.json", sv)))
	if err != nil {
		return err
	}
	write := func(name string, data []byte, version int64) *metadata.MetaFiles {
		if err == nil {
			err = os.WriteFile(meta(name), data, 0o644)
		}
		sum := sha256.Sum256(data)
		return &metadata.MetaFiles{Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}, Version: version}
	}
	for _, role := range roles {
		ref := snap.Signed.Meta[role+".json"]
		if ref == nil {
			return fmt.Errorf("the snapshot records no %s.json", role)
		}
		tg, err := metadata.Targets().FromFile(meta(fmt.Sprintf("%d.%s.json", ref.Version, url.PathEscape(role))))
		if err != nil {
			return err
		}
		if err := edit(role, tg.Signed.Targets); err != nil {
			return err
		}
		tg.Signed.Version++
		data, err := Resign(tg, s.Targets)
		if err != nil {
			return err
		}
		snap.Signed.Meta[role+".json"] = write(fmt.Sprintf("%d.%s.json", tg.Signed.Version, url.PathEscape(role)), data, tg.Signed.Version)
		if versionOnly {
			snap.Signed.Meta[role+".json"] = &metadata.MetaFiles{Version: tg.Signed.Version}
		}
	}
	if err != nil {
		return err // a role's file was not written
	}
	snap.Signed.Version++
	data, err := Resign(snap, s.Snapshot)
	if err != nil {
		return err
	}
	ts.Signed.Meta["snapshot.json"] = write(fmt.Sprintf("%d.snapshot.json", snap.Signed.Version), data, snap.Signed.Version)
	ts.Signed.Version++
	if data, err = Resign(ts, s.Timestamp); err != nil {
		return err
	}
	write("timestamp.json", data, 0)
	return err
}

// Resign replaces md's signatures by one of s and returns its bytes as
// published: what a forger with signer s writes.
func Resign[T metadata.Roles](md *metadata.Metadata[T], s signature.Signer) ([]byte, error) {
	md.ClearSignatures()
	if _, err := md.Sign(s); err != nil {
		return nil, err
	}
	return md.ToBytes(true)
}
