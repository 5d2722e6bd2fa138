package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/fsfetch"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// Problem codes reported by Verify. They are stable: CI scripts may match
// on them.
const (
	CodeTrustedRootInvalid       = "TRUSTED_ROOT_INVALID"
	CodeRootChainBroken          = "ROOT_CHAIN_BROKEN"
	CodeMetadataMissing          = "METADATA_MISSING"
	CodeMetadataInvalid          = "METADATA_INVALID"
	CodeMetadataTooLarge         = "METADATA_TOO_LARGE"
	CodeMetadataSignatureInvalid = "METADATA_SIGNATURE_INVALID"
	CodeMetadataHashMismatch     = "METADATA_HASH_MISMATCH"
	CodeVersionMismatch          = "VERSION_MISMATCH"
	CodeMetadataExpired          = "METADATA_EXPIRED"
	CodeExpiresSoon              = "EXPIRES_SOON"
	CodeDelegationViolation      = "DELEGATION_VIOLATION"
	CodeTargetMissing            = "TARGET_MISSING"
	CodeLengthMismatch           = "LENGTH_MISMATCH"
	CodeHashMismatch             = "HASH_MISMATCH"
	CodeCustomInvalid            = "CUSTOM_INVALID"
	CodeManifestInvalid          = "MANIFEST_INVALID"
	CodeManifestMismatch         = "MANIFEST_MISMATCH"
	CodeClientRejected           = "CLIENT_REJECTED"
	// Two published versions of a model of equal semver precedence (they
	// differ only in build metadata): devices cannot order them.
	CodeVersionAmbiguous = "VERSION_AMBIGUOUS"
	// Delta patches (targets.KindDelta).
	CodeDeltaUnlisted = "DELTA_UNLISTED"
	CodeDeltaMissing  = "DELTA_MISSING"
	CodeDeltaBadBase  = "DELTA_BAD_BASE"
	CodeDeltaInvalid  = "DELTA_INVALID"
)

// Problem is one thing wrong with a repository.
type Problem struct {
	Code    string `json:"code"`
	Role    string `json:"role,omitempty"`
	Target  string `json:"target,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	where := p.Role
	if p.Target != "" {
		where = p.Target
	}
	if where != "" {
		return fmt.Sprintf("%s: %s: %s", p.Code, where, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.Code, p.Message)
}

// RoleReport is what Verify found for one role.
type RoleReport struct {
	Role    string    `json:"role"`
	Version int64     `json:"version"`
	Expires time.Time `json:"expires"`
}

// VerifyReport is the outcome of Verify. The repository passes when
// Problems is empty.
type VerifyReport struct {
	Roles       []RoleReport `json:"roles"`
	Targets     int          `json:"targets"`
	TargetBytes int64        `json:"target_bytes"`
	Problems    []Problem    `json:"problems"`
}

// OK reports whether no problem was found.
func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 }

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// ValidFor fails roles that expire within this window from Now.
	ValidFor time.Duration
	// Now is the reference time (default: the current time).
	Now time.Time
}

type verifier struct {
	fs      afero.Fs
	dir     string
	now     time.Time
	opts    VerifyOptions
	rep     *VerifyReport
	metaBad bool // a metadata-level problem was found
}

func (v *verifier) problem(code, role, target, format string, args ...any) {
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
func Verify(fs afero.Fs, dir string, trustedRoot []byte, opts VerifyOptions) *VerifyReport {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	v := &verifier{fs: fs, dir: dir, now: now.UTC(), opts: opts, rep: &VerifyReport{Problems: []Problem{}}}
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
	roles := v.verifyTargetsTree(root, snap)
	v.verifyTargetFiles(root, roles)
	if !v.metaBad {
		v.crossCheckWithClient(trustedRoot, roles)
	}
}

// readMetaFile reads metadata/<name> bounded by maxMetadataSize and reports
// a missing file or one over the client limit for role.
func (v *verifier) readMetaFile(role, name string) []byte {
	data, err := readBounded(v.fs, filepath.Join(v.dir, MetadataDir, name), maxMetadataSize)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			v.problem(CodeMetadataMissing, role, "", "%s does not exist", name)
		} else {
			v.problem(CodeMetadataInvalid, role, "", "%s: %v", name, err)
		}
		return nil
	}
	limit := repofiles.ClientLimit(role)
	if int64(len(data)) > limit {
		v.problem(CodeMetadataTooLarge, role, "", "%s is %d bytes; go-tuf clients refuse more than %d by default", name, len(data), limit)
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
		v.problem(CodeMetadataInvalid, roleName, "", "cannot canonicalise: %v", cerr)
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
		case keys.Verify(k, payload, sig) != nil:
			detail = append(detail, fmt.Sprintf("invalid signature from key %s", short(id)))
		default:
			valid++
		}
	}
	v.problem(CodeMetadataSignatureInvalid, roleName, "", "%d valid signatures, threshold %d (%s)", valid, threshold, strings.Join(detail, "; "))
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
		v.problem(CodeMetadataExpired, role, "", "expired at %s", expires.UTC().Format(targets.TimeFormat))
	case v.opts.ValidFor > 0 && expires.Before(v.now.Add(v.opts.ValidFor)):
		v.problem(CodeExpiresSoon, role, "", "expires at %s, within the required validity of %s", expires.UTC().Format(targets.TimeFormat), FormatDuration(v.opts.ValidFor))
	}
}

// verifyRootChain loads the trusted root and follows N.root.json upwards
// as a client does: each version signed by a threshold of the previous
// root's keys and of its own, with consecutive version numbers.
func (v *verifier) verifyRootChain(trustedRoot []byte) *metadata.Metadata[metadata.RootType] {
	root, err := metadata.Root().FromBytes(trustedRoot)
	if err != nil {
		v.problem(CodeTrustedRootInvalid, metadata.ROOT, "", "the trusted root does not parse: %v", err)
		return nil
	}
	if err := checkKeys(root.Signed.Keys); err != nil {
		v.problem(CodeTrustedRootInvalid, metadata.ROOT, "", "the trusted root has an unusable %v", err)
		return nil
	}
	if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
		v.problem(CodeTrustedRootInvalid, metadata.ROOT, "", "the trusted root is not signed by its own threshold: %v", err)
		return nil
	}
	published := fmt.Sprintf("%d.root.json", root.Signed.Version)
	if data := v.readMetaFile(metadata.ROOT, published); data != nil {
		if pub, err := metadata.Root().FromBytes(data); err != nil {
			v.problem(CodeMetadataInvalid, metadata.ROOT, "", "%s: %v", published, err)
		} else if !sameSigned(pub.Signed, root.Signed) {
			v.problem(CodeRootChainBroken, metadata.ROOT, "", "%s differs from the trusted root", published)
		}
	}
	versions, _ := rootVersions(v.fs, filepath.Join(v.dir, MetadataDir))
	next := root.Signed.Version + 1
	for {
		name := fmt.Sprintf("%d.root.json", next)
		data, err := readBounded(v.fs, filepath.Join(v.dir, MetadataDir, name), maxMetadataSize)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			v.problem(CodeMetadataInvalid, metadata.ROOT, "", "%s: %v", name, err)
			return nil
		}
		if int64(len(data)) > repofiles.ClientLimit(metadata.ROOT) {
			v.problem(CodeMetadataTooLarge, metadata.ROOT, "", "%s is %d bytes; go-tuf clients refuse more than %d", name, len(data), repofiles.ClientLimit(metadata.ROOT))
		}
		nr, err := metadata.Root().FromBytes(data)
		if err != nil {
			v.problem(CodeRootChainBroken, metadata.ROOT, "", "%s does not parse: %v", name, err)
			return nil
		}
		if nr.Signed.Version != next {
			v.problem(CodeRootChainBroken, metadata.ROOT, "", "%s has version %d", name, nr.Signed.Version)
			return nil
		}
		prev := root.Signed.Roles[metadata.ROOT]
		if !v.checkSignatures(root, metadata.ROOT, root.Signed.Keys, prev.KeyIDs, prev.Threshold, nr, nr.Signed, nr.Signatures) {
			v.problem(CodeRootChainBroken, metadata.ROOT, "", "%s is not signed by a threshold of version %d's root keys", name, root.Signed.Version)
			return nil
		}
		if err := checkKeys(nr.Signed.Keys); err != nil {
			v.problem(CodeRootChainBroken, metadata.ROOT, "", "%s has an unusable %v", name, err)
			return nil
		}
		self := nr.Signed.Roles[metadata.ROOT]
		if self == nil || !v.checkSignatures(nr, metadata.ROOT, nr.Signed.Keys, self.KeyIDs, self.Threshold, nr, nr.Signed, nr.Signatures) {
			v.problem(CodeRootChainBroken, metadata.ROOT, "", "%s is not signed by a threshold of its own root keys", name)
			return nil
		}
		root = nr
		next++
	}
	for _, n := range versions {
		if n > root.Signed.Version {
			v.problem(CodeRootChainBroken, metadata.ROOT, "", "%d.root.json exists but %d.root.json is missing: clients stop at version %d", n, root.Signed.Version+1, root.Signed.Version)
			break
		}
	}
	return root
}

func sameSigned(a, b metadata.RootType) bool {
	x, err1 := cjson.EncodeCanonical(a)
	y, err2 := cjson.EncodeCanonical(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func (v *verifier) verifyTimestamp(root *metadata.Metadata[metadata.RootType]) *metadata.Metadata[metadata.TimestampType] {
	data := v.readMetaFile(metadata.TIMESTAMP, "timestamp.json")
	if data == nil {
		return nil
	}
	ts, err := metadata.Timestamp().FromBytes(data)
	if err != nil {
		v.problem(CodeMetadataInvalid, metadata.TIMESTAMP, "", "timestamp.json: %v", err)
		return nil
	}
	role := root.Signed.Roles[metadata.TIMESTAMP]
	if role == nil {
		v.problem(CodeMetadataInvalid, metadata.ROOT, "", "root defines no timestamp role")
		return nil
	}
	v.checkSignatures(root, metadata.TIMESTAMP, root.Signed.Keys, role.KeyIDs, role.Threshold, ts, ts.Signed, ts.Signatures)
	v.checkExpiry(metadata.TIMESTAMP, ts.Signed.Version, ts.Signed.Expires)
	if ts.Signed.Meta["snapshot.json"] == nil {
		v.problem(CodeMetadataInvalid, metadata.TIMESTAMP, "", "no snapshot.json entry")
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
			v.problem(CodeMetadataHashMismatch, role, "", "%s does not match the length or hash its parent records: %v", name, err)
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
		v.problem(CodeMetadataInvalid, metadata.SNAPSHOT, "", "%v", err)
		return nil
	}
	role := root.Signed.Roles[metadata.SNAPSHOT]
	if role == nil {
		v.problem(CodeMetadataInvalid, metadata.ROOT, "", "root defines no snapshot role")
		return nil
	}
	v.checkSignatures(root, metadata.SNAPSHOT, root.Signed.Keys, role.KeyIDs, role.Threshold, snap, snap.Signed, snap.Signatures)
	if snap.Signed.Version != mf.Version {
		v.problem(CodeVersionMismatch, metadata.SNAPSHOT, "", "version %d, timestamp says %d", snap.Signed.Version, mf.Version)
	}
	v.checkExpiry(metadata.SNAPSHOT, snap.Signed.Version, snap.Signed.Expires)
	return snap
}

// verifiedRole is a targets role that passed (or failed) its checks,
// with the delegation that governs which paths it may sign for.
type verifiedRole struct {
	name       string
	md         *metadata.Metadata[metadata.TargetsType]
	delegation *metadata.DelegatedRole // nil for top-level targets
	bins       *metadata.SuccinctRoles // set for a hash bin (delegate_verify.go)
}

// verifyTargetsTree verifies top-level targets and every delegated role
// reachable from it (ordered, depth first, each once).
func (v *verifier) verifyTargetsTree(root *metadata.Metadata[metadata.RootType], snap *metadata.Metadata[metadata.SnapshotType]) []verifiedRole {
	var out []verifiedRole
	load := func(name string) *metadata.Metadata[metadata.TargetsType] {
		mf := snap.Signed.Meta[name+".json"]
		if mf == nil {
			v.problem(CodeMetadataMissing, name, "", "snapshot has no entry for %s.json%s", name, pendingHint(name))
			return nil
		}
		data := v.loadVersioned(root, name, mf)
		if data == nil {
			return nil
		}
		md, err := metadata.Targets().FromBytes(data)
		if err != nil {
			v.problem(CodeMetadataInvalid, name, "", "%v", err)
			return nil
		}
		if md.Signed.Version != mf.Version {
			v.problem(CodeVersionMismatch, name, "", "version %d, snapshot says %d", md.Signed.Version, mf.Version)
		}
		v.checkExpiry(name, md.Signed.Version, md.Signed.Expires)
		return md
	}
	top := load(metadata.TARGETS)
	if top == nil {
		return nil
	}
	role := root.Signed.Roles[metadata.TARGETS]
	if role == nil {
		v.problem(CodeMetadataInvalid, metadata.ROOT, "", "root defines no targets role")
		return nil
	}
	v.checkSignatures(root, metadata.TARGETS, root.Signed.Keys, role.KeyIDs, role.Threshold, top, top.Signed, top.Signatures)
	out = append(out, verifiedRole{name: metadata.TARGETS, md: top})

	type edge struct {
		parent *metadata.Metadata[metadata.TargetsType]
		role   metadata.DelegatedRole
		bins   *metadata.SuccinctRoles
	}
	var stack []edge
	push := func(parent *metadata.Metadata[metadata.TargetsType]) {
		d := parent.Signed.Delegations
		if d == nil {
			return
		}
		var edges []edge
		for _, r := range d.Roles {
			edges = append(edges, edge{parent, r, nil})
		}
		if d.SuccinctRoles != nil {
			for _, name := range d.SuccinctRoles.GetRoles() {
				edges = append(edges, edge{parent, metadata.DelegatedRole{Name: name, KeyIDs: d.SuccinctRoles.KeyIDs, Threshold: d.SuccinctRoles.Threshold}, d.SuccinctRoles})
			}
		}
		for i := len(edges) - 1; i >= 0; i-- { // first delegation on top
			stack = append(stack, edges[i])
		}
	}
	push(top)
	seen := map[string]bool{metadata.TARGETS: true}
	for len(stack) > 0 && len(seen) < 10000 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[e.role.Name] {
			continue
		}
		seen[e.role.Name] = true
		md := load(e.role.Name)
		if md == nil {
			continue
		}
		if err := checkKeys(e.parent.Signed.Delegations.Keys); err != nil {
			v.problem(CodeMetadataInvalid, e.role.Name, "", "delegation with an unusable %v", err)
			continue
		}
		v.checkSignatures(e.parent, e.role.Name, e.parent.Signed.Delegations.Keys, e.role.KeyIDs, e.role.Threshold, md, md.Signed, md.Signatures)
		r := e.role
		out = append(out, verifiedRole{name: e.role.Name, md: md, delegation: &r, bins: e.bins})
		push(md)
	}
	return out
}

// modelVersion gathers the targets of one model version.
type modelVersion struct {
	manifestPath string
	manifest     *targets.Custom
	manifestData []byte // set when the file verified
	payloads     map[string]*metadata.TargetFiles
	payloadSeen  map[string]bool
	deltas       map[string]*deltaTarget // by target path
}

// deltaTarget is a signed patch target and what its header says.
type deltaTarget struct {
	custom    *targets.Custom
	header    *delta.Header // nil if the file failed or its header did not parse
	headerErr error
}

// targetJob is one target to check: the checks that need no file bytes
// are done in order while the jobs are listed, the hashing in parallel.
type targetJob struct {
	role   string
	path   string
	tf     *metadata.TargetFiles
	custom *targets.Custom
	keep   bool      // keep the bytes (a manifest, to compare its content)
	patch  bool      // read the patch header (a delta target)
	pre    []Problem // found before reading the file
	res    targetResult
}

// targetResult is what reading one target file found.
type targetResult struct {
	data      []byte
	ok        bool
	problems  []Problem
	header    *delta.Header // patch header, when asked for
	headerErr error
}

func mkProblem(code, role, target, format string, args ...any) Problem {
	return Problem{Code: code, Role: role, Target: target, Message: fmt.Sprintf(format, args...)}
}

// verifyTargetFiles checks every target's bytes and the model structure.
// Files are hashed by a few workers at once (hashing one file leaves the
// disk idle half the time); problems are reported in path order whatever
// the order the workers finish in.
func (v *verifier) verifyTargetFiles(root *metadata.Metadata[metadata.RootType], roles []verifiedRole) {
	var jobs []*targetJob
	for _, r := range roles {
		paths := make([]string, 0, len(r.md.Signed.Targets))
		for p := range r.md.Signed.Targets {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			j := &targetJob{role: r.name, path: p, tf: r.md.Signed.Targets[p]}
			if r.outside(p) {
				j.pre = append(j.pre, mkProblem(CodeDelegationViolation, r.name, p, "role %s is not delegated this path; clients will not find it", r.name))
			}
			if strings.HasPrefix(p, targets.ModelsDir+"/") {
				c, err := targets.ParseCustom(p, j.tf.Custom)
				if err != nil {
					j.pre = append(j.pre, mkProblem(CodeCustomInvalid, r.name, p, "%v", err))
				} else {
					j.custom = c
				}
			}
			j.keep = j.custom != nil && j.custom.Kind == targets.KindManifest && j.tf.Length <= targets.MaxManifestSize
			j.patch = j.custom != nil && j.custom.Kind == targets.KindDelta
			jobs = append(jobs, j)
		}
	}

	workers := min(runtime.GOMAXPROCS(0), 4, len(jobs))
	next := make(chan *targetJob)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for j := range next {
				j.res = v.checkTargetFile(root, j.path, j.tf, j.keep, j.patch, buf)
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()

	models := map[string]*modelVersion{} // key: models/<id>/<version>
	for _, j := range jobs {
		v.rep.Targets++
		v.rep.TargetBytes += j.tf.Length
		for _, pr := range append(j.pre, j.res.problems...) {
			v.add(pr)
		}
		if j.custom == nil {
			continue
		}
		pp, _ := targets.ParseTargetPath(j.path)
		dir := targets.TargetDir(pp.ModelID, pp.Version)
		mv := models[dir]
		if mv == nil {
			mv = &modelVersion{payloads: map[string]*metadata.TargetFiles{}, payloadSeen: map[string]bool{}, deltas: map[string]*deltaTarget{}}
			models[dir] = mv
		}
		switch j.custom.Kind {
		case targets.KindManifest:
			mv.manifestPath, mv.manifest = j.path, j.custom
			if j.res.ok {
				mv.manifestData = j.res.data
			}
		case targets.KindPayload:
			mv.payloads[pp.File] = j.tf
		case targets.KindDelta:
			mv.deltas[j.path] = &deltaTarget{custom: j.custom, header: j.res.header, headerErr: j.res.headerErr}
		}
	}
	dirs := make([]string, 0, len(models))
	for d := range models {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		v.checkModelVersion(d, models[d])
	}
	for _, d := range dirs {
		v.checkDeltas(models[d], models)
	}
	v.checkPrecedence(models)
}

// checkPrecedence reports versions of one model that have the same semver
// precedence: they differ only in build metadata, so neither is newer,
// and a device cannot choose between them (mrepo add-target refuses to
// publish such a version; another tool may not).
func (v *verifier) checkPrecedence(models map[string]*modelVersion) {
	type pub struct {
		v    targets.Version
		path string
	}
	byModel := map[string][]pub{}
	for _, mv := range models {
		if mv.manifest == nil {
			continue
		}
		pv, err := targets.ParseVersion(mv.manifest.Version)
		if err != nil {
			continue
		}
		byModel[mv.manifest.ModelID] = append(byModel[mv.manifest.ModelID], pub{pv, mv.manifestPath})
	}
	for _, id := range sortedKeys(byModel) {
		vs := byModel[id]
		sort.Slice(vs, func(i, j int) bool {
			if c := vs[i].v.Compare(vs[j].v); c != 0 {
				return c < 0
			}
			return vs[i].v.String() < vs[j].v.String()
		})
		for i := 1; i < len(vs); i++ {
			if vs[i].v.Compare(vs[i-1].v) == 0 {
				v.problem(CodeVersionAmbiguous, "", vs[i].path, "%s %s has the same precedence as %s %s (they differ only in build metadata, which semantic versioning ignores): devices cannot tell which is newer; remove one and publish a higher version", id, vs[i].v, id, vs[i-1].v)
			}
		}
		folded := map[string]string{}
		for _, p := range vs {
			k := targets.FoldName(p.v.String())
			if other, ok := folded[k]; ok {
				v.problem(CodeVersionAmbiguous, "", p.path, "%s %s differs only in case from %s %s: their directories collide on case-insensitive filesystems (SD cards), and devices ignore both", id, p.v, id, other)
				continue
			}
			folded[k] = p.v.String()
		}
	}
}

// checkTargetFile streams one target's bytes through SHA-256, bounded by
// the signed length. It returns the bytes only when asked (manifests), and
// the patch header of a delta target when asked. It runs on worker
// goroutines, so it reports problems in its result.
func (v *verifier) checkTargetFile(root *metadata.Metadata[metadata.RootType], p string, tf *metadata.TargetFiles, keep, patch bool, buf []byte) targetResult {
	var res targetResult
	fail := func(code, format string, args ...any) targetResult {
		res.problems = append(res.problems, mkProblem(code, "", p, format, args...))
		return res
	}
	want := tf.Hashes["sha256"]
	if len(want) != sha256.Size {
		return fail(CodeMetadataInvalid, "no SHA-256 hash in the signed metadata")
	}
	if len(tf.Hashes) > 1 {
		fail(CodeMetadataInvalid, "hashes other than sha256: go-tuf clients then pick the file name prefix at random")
	}
	rel := p
	if root.Signed.ConsistentSnapshot {
		rel = consistentName(p, want)
	}
	f, err := v.fs.Open(filepath.Join(v.dir, TargetsDir, filepath.FromSlash(rel)))
	if err != nil {
		return fail(CodeTargetMissing, "targets/%s: %v", rel, errors.Unwrap(err))
	}
	defer f.Close()
	h := sha256.New()
	var kept bytes.Buffer
	var w io.Writer = h
	if keep {
		w = io.MultiWriter(h, &kept)
	}
	n, err := io.CopyBuffer(struct{ io.Writer }{w}, io.LimitReader(f, tf.Length+1), buf)
	if err != nil {
		return fail(CodeTargetMissing, "reading targets/%s: %v", rel, err)
	}
	if n != tf.Length {
		return fail(CodeLengthMismatch, "targets/%s: signed length %d, file has %s", rel, tf.Length, lengthDesc(n, tf.Length))
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return fail(CodeHashMismatch, "targets/%s: SHA-256 %s, signed %s", rel, hex.EncodeToString(got), hex.EncodeToString(want))
	}
	res.data, res.ok = kept.Bytes(), true
	if patch {
		res.header, res.headerErr = delta.ReadHeader(f, tf.Length)
	}
	return res
}

func lengthDesc(n, want int64) string {
	if n > want {
		return "more"
	}
	return fmt.Sprintf("%d", n)
}

// checkModelVersion checks that a model version's manifest, its signed
// custom metadata and its payload targets agree with each other.
func (v *verifier) checkModelVersion(dir string, mv *modelVersion) {
	if mv.manifest == nil {
		v.problem(CodeManifestMismatch, "", dir, "payload or delta targets without a %s target", targets.ManifestName)
		return
	}
	p := mv.manifestPath
	for _, name := range mv.manifest.Files {
		if mv.payloads[name] == nil {
			v.problem(CodeManifestMismatch, "", p, "lists %s, which is not a signed payload target", name)
		}
		mv.payloadSeen[name] = true
	}
	for name := range mv.payloads {
		if !mv.payloadSeen[name] {
			v.problem(CodeManifestMismatch, "", dir+"/"+name, "payload target not listed by the manifest")
		}
	}
	if mv.manifestData == nil {
		return // its bytes already failed; nothing trustworthy to compare
	}
	m, err := targets.ParsePublishedManifest(mv.manifestData)
	if err != nil {
		v.problem(CodeManifestInvalid, "", p, "%v", err)
		return
	}
	if m.ModelID != mv.manifest.ModelID || m.Version != mv.manifest.Version {
		v.problem(CodeManifestMismatch, "", p, "manifest names %s %s", m.ModelID, m.Version)
	}
	if !reflect.DeepEqual(m.Compat, mv.manifest.Compat) {
		v.problem(CodeManifestMismatch, "", p, "compatibility fields differ between the manifest and the signed custom metadata")
	}
	if m.BuildTimestamp != mv.manifest.BuildTimestamp {
		v.problem(CodeManifestMismatch, "", p, "build_timestamp differs between the manifest and the signed custom metadata")
	}
	if !reflect.DeepEqual(m.SortedFileNames(), mv.manifest.Files) {
		v.problem(CodeManifestMismatch, "", p, "file list differs between the manifest and the signed custom metadata")
	}
	for _, f := range m.Files {
		tf := mv.payloads[f.Path]
		if tf == nil {
			continue
		}
		if *f.Size != tf.Length || f.SHA256 != hex.EncodeToString(tf.Hashes["sha256"]) {
			v.problem(CodeManifestMismatch, "", p, "%s: manifest says %d bytes %s, signed target says %d bytes %s",
				f.Path, *f.Size, short(f.SHA256), tf.Length, short(hex.EncodeToString(tf.Hashes["sha256"])))
		}
	}
}

// crossCheckWithClient runs go-tuf's updater over the repository from the
// trusted root: a second, independent implementation of the client
// workflow. It must accept what Verify accepted and resolve every target
// to the same length and hash.
func (v *verifier) crossCheckWithClient(trustedRoot []byte, roles []verifiedRole) {
	const prefix = "mrepo-verify://repository/"
	cfg, err := config.New(prefix+"metadata", trustedRoot)
	if err != nil {
		v.problem(CodeClientRejected, "", "", "go-tuf config: %v", err)
		return
	}
	// go-tuf reads cached metadata from LocalMetadataDir even with the cache
	// disabled; an empty directory makes sure nothing local is trusted.
	tmp, err := os.MkdirTemp("", "mrepo-verify-")
	if err != nil {
		v.problem(CodeClientRejected, "", "", "%v", err)
		return
	}
	defer os.RemoveAll(tmp)
	cfg.LocalMetadataDir = tmp
	cfg.LocalTargetsDir = tmp
	cfg.DisableLocalCache = true
	cfg.Fetcher = &fsfetch.Fetcher{FS: v.fs, Dir: v.dir, Prefix: prefix}
	up, err := updater.New(cfg)
	if err != nil {
		v.problem(CodeClientRejected, "", "", "go-tuf client: %v", err)
		return
	}
	up.UnsafeSetRefTime(v.now)
	if err := up.Refresh(); err != nil {
		v.problem(CodeClientRejected, "", "", "go-tuf client refresh failed: %v", err)
		return
	}
	for _, r := range roles {
		for p, tf := range r.md.Signed.Targets {
			if r.outside(p) {
				continue // already reported
			}
			got, err := up.GetTargetInfo(p)
			if err != nil {
				v.problem(CodeClientRejected, "", p, "go-tuf client cannot resolve it: %v", err)
				continue
			}
			if got.Length != tf.Length || !got.Hashes.Equal(tf.Hashes) {
				v.problem(CodeClientRejected, "", p, "go-tuf client resolves it to another length or hash (shadowed by an earlier delegation?)")
			}
		}
	}
}

// checkDeltas checks a model version's patches against its manifest's
// signed list of them and against the files they connect: every listed
// patch is a signed delta target, every delta target is listed (a device
// uses only listed ones), its base version is published with that file,
// and its header names exactly the signed base and new files.
func (v *verifier) checkDeltas(mv *modelVersion, models map[string]*modelVersion) {
	listed := map[string]bool{}
	if mv.manifest != nil {
		files := make([]string, 0, len(mv.manifest.Deltas))
		for f := range mv.manifest.Deltas {
			files = append(files, f)
		}
		sort.Strings(files)
		for _, f := range files {
			for _, ref := range mv.manifest.Deltas[f] {
				listed[ref.Target] = true
				if mv.deltas[ref.Target] == nil {
					v.problem(CodeDeltaMissing, "", mv.manifestPath, "lists a patch of %s from %s, %s, which is not a signed %s target", f, ref.Base, ref.Target, targets.KindDelta)
				}
			}
		}
	}
	paths := make([]string, 0, len(mv.deltas))
	for p := range mv.deltas {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		d := mv.deltas[p]
		c := d.custom
		if mv.manifest != nil && !listed[p] {
			v.problem(CodeDeltaUnlisted, "", p, "not listed in the deltas of %s; devices never use it", mv.manifestPath)
		}
		var baseTF *metadata.TargetFiles
		base := models[targets.TargetDir(c.ModelID, c.BaseVersion)]
		switch {
		case base == nil || base.manifest == nil:
			v.problem(CodeDeltaBadBase, "", p, "base version %s of %s is not published", c.BaseVersion, c.ModelID)
		case !slices.Contains(base.manifest.Files, c.File) || base.payloads[c.File] == nil:
			v.problem(CodeDeltaBadBase, "", p, "base version %s has no %s", c.BaseVersion, c.File)
		default:
			baseTF = base.payloads[c.File]
		}
		newTF := mv.payloads[c.File]
		if mv.manifest != nil && (newTF == nil || !slices.Contains(mv.manifest.Files, c.File)) {
			v.problem(CodeDeltaInvalid, "", p, "rebuilds %s, which is not a payload file of %s %s", c.File, c.ModelID, c.Version)
			newTF = nil
		}
		switch {
		case d.headerErr != nil:
			v.problem(CodeDeltaInvalid, "", p, "patch header: %v", d.headerErr)
		case d.header == nil:
			// The file itself failed (missing, length, hash): already reported.
		default:
			h := d.header
			if baseTF != nil && (h.BaseLength != baseTF.Length || !bytes.Equal(h.BaseSHA256[:], baseTF.Hashes["sha256"])) {
				v.problem(CodeDeltaBadBase, "", p, "the patch applies to a file of %d bytes with SHA-256 %s, not to %s (%d bytes, %s)",
					h.BaseLength, short(hex.EncodeToString(h.BaseSHA256[:])), baseTF.Path, baseTF.Length, short(hex.EncodeToString(baseTF.Hashes["sha256"])))
			}
			if newTF != nil && (h.TargetLength != newTF.Length || !bytes.Equal(h.TargetSHA256[:], newTF.Hashes["sha256"])) {
				v.problem(CodeDeltaInvalid, "", p, "the patch rebuilds a file of %d bytes with SHA-256 %s, not %s (%d bytes, %s)",
					h.TargetLength, short(hex.EncodeToString(h.TargetSHA256[:])), newTF.Path, newTF.Length, short(hex.EncodeToString(newTF.Hashes["sha256"])))
			}
		}
	}
}
