package audit

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

type verifier struct {
	fs      afero.Fs
	dir     string
	now     time.Time
	opts    Options
	rep     *Report
	metaBad bool      // a metadata-level problem was found
	base    *baseline // Options.Since's snapshot (since.go); nil: verify everything
}

func (v *verifier) problem(code Code, role, target, format string, args ...any) {
	v.add(mkProblem(code, role, target, format, args...))
}

// add records a problem; one not tied to a target is a metadata problem.
func (v *verifier) add(p Problem) {
	v.rep.Problems = append(v.rep.Problems, p)
	if p.Target == "" {
		v.metaBad = true
	}
}

// Verify checks the repository in dir the way a client that trusts only
// trustedRoot would, and lists every problem it finds rather than stopping
// at the first: the chain of root versions, every role's signatures and
// threshold, timestamp/snapshot/targets consistency (versions, lengths,
// hashes), delegations, expiry (and expiry within opts.ValidFor), every
// target file's length and SHA-256, and that each model version's manifest
// agrees with its signed metadata. Finally, when its own checks pass, it
// runs go-tuf's client over the repository as a second opinion.
//
// Verify reads only metadata/ and targets/; it needs no keys and no
// mrepo.json, so it can gate any static TUF repository.
func Verify(fs afero.Fs, dir string, trustedRoot []byte, opts Options) *Report {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	v := &verifier{fs: fs, dir: dir, now: now.UTC(), opts: opts, rep: &Report{Problems: []Problem{}}}
	v.run(trustedRoot)
	return v.rep
}

func (v *verifier) run(trustedRoot []byte) {
	root := v.verifyRootChain(trustedRoot)
	if root == nil {
		return
	}
	v.checkExpiry(metadata.ROOT, root.Signed.Version, root.Signed.Expires)

	ts := v.verifyTimestamp(root)
	if ts == nil {
		return
	}
	snap := v.verifySnapshot(root, ts)
	if snap == nil {
		return
	}
	if v.opts.Since > 0 {
		v.rep.Since = v.opts.Since
		if v.base = v.loadBaseline(root, snap, v.opts.Since); v.base == nil {
			return
		}
	}
	roles := v.verifyTargetsTree(root, snap)
	v.verifyTargetFiles(root, roles)
	if !v.metaBad {
		v.crossCheckWithClient(trustedRoot, roles)
	}
}

// readMetaFile reads metadata/<name> bounded by repofiles.MaxMetadataSize and reports
// a missing file or one over the client limit for role.
func (v *verifier) readMetaFile(role, name string) []byte {
	data, err := repofiles.ReadBounded(v.fs, filepath.Join(v.dir, repofiles.MetadataDir, name), repofiles.MaxMetadataSize)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			v.problem(MetadataMissing, role, "", "%s does not exist", name)
		} else {
			v.problem(MetadataInvalid, role, "", "%s: %v", name, err)
		}
		return nil
	}
	limit := repofiles.ClientLimit(role)
	if int64(len(data)) > limit {
		v.problem(MetadataTooLarge, role, "", "%s is %d bytes; go-tuf clients refuse more than %d by default", name, len(data), limit)
	}
	return data
}

// checkSignatures reports a role whose signatures do not meet its
// threshold, naming each key that has no valid signature. VerifyDelegate
// (go-tuf's own check) decides; the per-key detail is for the message.
func (v *verifier) checkSignatures(delegator any, roleName string, keysByID map[string]*metadata.Key, keyIDs []string, threshold int, md any, signed any, sigs []metadata.Signature) bool {
	var err error
	switch d := delegator.(type) {
	case *metadata.Metadata[metadata.RootType]:
		err = d.VerifyDelegate(roleName, md)
	case *metadata.Metadata[metadata.TargetsType]:
		err = d.VerifyDelegate(roleName, md)
	}
	if err == nil {
		return true
	}
	payload, cerr := cjson.EncodeCanonical(signed)
	if cerr != nil {
		v.problem(MetadataInvalid, roleName, "", "cannot canonicalise: %v", cerr)
		return false
	}
	byID := map[string][]byte{}
	for _, s := range sigs {
		byID[s.KeyID] = s.Signature
	}
	var detail []string
	valid := 0
	for _, id := range keyIDs {
		k := keysByID[id]
		sig, has := byID[id]
		switch {
		case k == nil:
			detail = append(detail, fmt.Sprintf("key %s is not defined", short(id)))
		case !has:
			detail = append(detail, fmt.Sprintf("no signature from key %s", short(id)))
		case pubkey.Verify(k, payload, sig) != nil:
			detail = append(detail, fmt.Sprintf("invalid signature from key %s", short(id)))
		default:
			valid++
		}
	}
	v.problem(MetadataSignatureInvalid, roleName, "", "%d valid signatures, threshold %d (%s)", valid, threshold, strings.Join(detail, "; "))
	return false
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func (v *verifier) checkExpiry(role string, version int64, expires time.Time) {
	v.rep.Roles = append(v.rep.Roles, RoleReport{Role: role, Version: version, Expires: expires})
	switch {
	case !v.now.Before(expires):
		v.problem(MetadataExpired, role, "", "expired at %s", expires.UTC().Format(targets.TimeFormat))
	case v.opts.ValidFor > 0 && expires.Before(v.now.Add(v.opts.ValidFor)):
		v.problem(ExpiresSoon, role, "", "expires at %s, within the required validity of %s", expires.UTC().Format(targets.TimeFormat), duration.Format(v.opts.ValidFor))
	}
}

// verifyRootChain loads the trusted root and follows N.root.json upwards
// as a client does: each version signed by a threshold of the previous
// root's keys and of its own, with consecutive version numbers.
func (v *verifier) verifyRootChain(trustedRoot []byte) *metadata.Metadata[metadata.RootType] {
	root, err := metadata.Root().FromBytes(trustedRoot)
	if err != nil {
		v.problem(TrustedRootInvalid, metadata.ROOT, "", "the trusted root does not parse: %v", err)
		return nil
	}
	if err := pubkey.CheckAll(root.Signed.Keys); err != nil {
		v.problem(TrustedRootInvalid, metadata.ROOT, "", "the trusted root has an unusable %v", err)
		return nil
	}
	if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
		v.problem(TrustedRootInvalid, metadata.ROOT, "", "the trusted root is not signed by its own threshold: %v", err)
		return nil
	}
	published := fmt.Sprintf("%d.root.json", root.Signed.Version)
	if data := v.readMetaFile(metadata.ROOT, published); data != nil {
		if pub, err := metadata.Root().FromBytes(data); err != nil {
			v.problem(MetadataInvalid, metadata.ROOT, "", "%s: %v", published, err)
		} else if !repofiles.SameRoot(pub.Signed, root.Signed) {
			v.problem(RootChainBroken, metadata.ROOT, "", "%s differs from the trusted root", published)
		}
	}
	versions, _ := repofiles.RootVersions(v.fs, filepath.Join(v.dir, repofiles.MetadataDir))
	next := root.Signed.Version + 1
	for {
		name := fmt.Sprintf("%d.root.json", next)
		data, err := repofiles.ReadBounded(v.fs, filepath.Join(v.dir, repofiles.MetadataDir, name), repofiles.MaxMetadataSize)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			v.problem(MetadataInvalid, metadata.ROOT, "", "%s: %v", name, err)
			return nil
		}
		if int64(len(data)) > repofiles.ClientLimit(metadata.ROOT) {
			v.problem(MetadataTooLarge, metadata.ROOT, "", "%s is %d bytes; go-tuf clients refuse more than %d", name, len(data), repofiles.ClientLimit(metadata.ROOT))
		}
		nr, err := metadata.Root().FromBytes(data)
		if err != nil {
			v.problem(RootChainBroken, metadata.ROOT, "", "%s does not parse: %v", name, err)
			return nil
		}
		if nr.Signed.Version != next {
			v.problem(RootChainBroken, metadata.ROOT, "", "%s has version %d", name, nr.Signed.Version)
			return nil
		}
		prev := root.Signed.Roles[metadata.ROOT]
		if !v.checkSignatures(root, metadata.ROOT, root.Signed.Keys, prev.KeyIDs, prev.Threshold, nr, nr.Signed, nr.Signatures) {
			v.problem(RootChainBroken, metadata.ROOT, "", "%s is not signed by a threshold of version %d's root keys", name, root.Signed.Version)
			return nil
		}
		if err := pubkey.CheckAll(nr.Signed.Keys); err != nil {
			v.problem(RootChainBroken, metadata.ROOT, "", "%s has an unusable %v", name, err)
			return nil
		}
		self := nr.Signed.Roles[metadata.ROOT]
		if self == nil || !v.checkSignatures(nr, metadata.ROOT, nr.Signed.Keys, self.KeyIDs, self.Threshold, nr, nr.Signed, nr.Signatures) {
			v.problem(RootChainBroken, metadata.ROOT, "", "%s is not signed by a threshold of its own root keys", name)
			return nil
		}
		root = nr
		next++
	}
	for _, n := range versions {
		if n > root.Signed.Version {
			v.problem(RootChainBroken, metadata.ROOT, "", "%d.root.json exists but %d.root.json is missing: clients stop at version %d", n, root.Signed.Version+1, root.Signed.Version)
			break
		}
	}
	return root
}

func (v *verifier) verifyTimestamp(root *metadata.Metadata[metadata.RootType]) *metadata.Metadata[metadata.TimestampType] {
	data := v.readMetaFile(metadata.TIMESTAMP, "timestamp.json")
	if data == nil {
		return nil
	}
	ts, err := metadata.Timestamp().FromBytes(data)
	if err != nil {
		v.problem(MetadataInvalid, metadata.TIMESTAMP, "", "timestamp.json: %v", err)
		return nil
	}
	role := root.Signed.Roles[metadata.TIMESTAMP]
	if role == nil {
		v.problem(MetadataInvalid, metadata.ROOT, "", "root defines no timestamp role")
		return nil
	}
	v.checkSignatures(root, metadata.TIMESTAMP, root.Signed.Keys, role.KeyIDs, role.Threshold, ts, ts.Signed, ts.Signatures)
	v.checkExpiry(metadata.TIMESTAMP, ts.Signed.Version, ts.Signed.Expires)
	if ts.Signed.Meta["snapshot.json"] == nil {
		v.problem(MetadataInvalid, metadata.TIMESTAMP, "", "no snapshot.json entry")
		return nil
	}
	return ts
}

// loadVersioned reads the metadata file a client would fetch for role
// from a parent's meta entry, checking its length, hashes and version.
func (v *verifier) loadVersioned(root *metadata.Metadata[metadata.RootType], role string, mf *metadata.MetaFiles) []byte {
	name := url.PathEscape(role) + ".json"
	if root.Signed.ConsistentSnapshot {
		name = fmt.Sprintf("%d.%s", mf.Version, name)
	}
	data := v.readMetaFile(role, name)
	if data == nil {
		return nil
	}
	if mf.Length != 0 || len(mf.Hashes) != 0 {
		if err := mf.VerifyLengthHashes(data); err != nil {
			v.problem(MetadataHashMismatch, role, "", "%s does not match the length or hash its parent records: %v", name, err)
		}
	}
	return data
}

func (v *verifier) verifySnapshot(root *metadata.Metadata[metadata.RootType], ts *metadata.Metadata[metadata.TimestampType]) *metadata.Metadata[metadata.SnapshotType] {
	mf := ts.Signed.Meta["snapshot.json"]
	data := v.loadVersioned(root, metadata.SNAPSHOT, mf)
	if data == nil {
		return nil
	}
	snap, err := metadata.Snapshot().FromBytes(data)
	if err != nil {
		v.problem(MetadataInvalid, metadata.SNAPSHOT, "", "%v", err)
		return nil
	}
	role := root.Signed.Roles[metadata.SNAPSHOT]
	if role == nil {
		v.problem(MetadataInvalid, metadata.ROOT, "", "root defines no snapshot role")
		return nil
	}
	v.checkSignatures(root, metadata.SNAPSHOT, root.Signed.Keys, role.KeyIDs, role.Threshold, snap, snap.Signed, snap.Signatures)
	if snap.Signed.Version != mf.Version {
		v.problem(VersionMismatch, metadata.SNAPSHOT, "", "version %d, timestamp says %d", snap.Signed.Version, mf.Version)
	}
	v.checkExpiry(metadata.SNAPSHOT, snap.Signed.Version, snap.Signed.Expires)
	return snap
}
