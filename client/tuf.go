package client

import (
	"context"
	"crypto/sha256"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/fsfetch"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// checkRoot accepts only a root that parses and is signed by its own
// threshold: the pinned root must be usable before anything is trusted.
func checkRoot(rootJSON []byte) error {
	root, err := metadata.Root().FromBytes(rootJSON)
	if err != nil {
		return codes.Errorf(MetadataInvalid, err, "trusted root")
	}
	if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
		return codes.Errorf(MetadataSignatureInvalid, err, "trusted root is not signed by its own threshold")
	}
	return nil
}

// tufSession is one TUF refresh with go-tuf's updater: metadata is read
// from and persisted to metaDir, fetched from repoURL/metadata.
type tufSession struct {
	ctx       context.Context // bounds the session's downloads
	up        *updater.Updater
	metaDir   string
	targetURL string // base URL of targets, with a trailing slash
	consist   bool   // consistent snapshots: target files are hash-prefixed
	// What loadRole needs to fetch delegated roles as go-tuf does. The
	// fetcher is go-tuf's too; it records which role it fetched last.
	fetcher        *transport.MetaFetcher
	metadataURL    string
	maxTargets     int64
	maxDelegations int // roles one lookup may visit (go-tuf's MaxDelegations)
	// verified records each delegation (delegator, role) under which the
	// loaded metadata of the role has been verified in this session: see
	// loadRole.
	verified map[delegation]*metadata.Metadata[metadata.TargetsType]
}

// delegation is an edge of the delegation graph: Parent delegates Role.
type delegation struct{ Role, Parent string }

// tufOptions are what a session needs besides its directories.
type tufOptions struct {
	// ctx bounds every download of the session (go-tuf's Refresh takes no
	// context: the fetcher carries this one). nil: never ends.
	ctx        context.Context
	httpClient *http.Client
	now        time.Time // reference time for expiry (zero: the clock)
	offline    bool      // use only local metadata (UnsafeLocalMode)
	limits     transport.Limits
	// retries, backoff, stall and metaTimeout as in Options.
	retries     int
	backoff     time.Duration
	stall       time.Duration
	metaTimeout time.Duration
	after       transport.AfterFunc // nil: real timers
}

// newTUFSession builds an updater. The trusted root is metaDir/root.json,
// which go-tuf keeps at the newest verified root; if it is missing or
// damaged (a power cut while go-tuf wrote it: go-tuf does not fsync) the
// pinned root in fallbackRoot is used instead, and the root chain is
// simply walked again from there.
func newTUFSession(metaDir, metadataURL, targetsURL, fallbackRoot string, o tufOptions) (*tufSession, error) {
	if o.ctx == nil {
		o.ctx = context.Background()
	}
	if o.limits == (transport.Limits{}) {
		o.limits = limitsOf(Options{})
	}
	rootBytes, err := os.ReadFile(filepath.Join(metaDir, "root.json"))
	if err != nil || checkRoot(rootBytes) != nil {
		if fallbackRoot == "" {
			if err == nil {
				return nil, checkRoot(rootBytes)
			}
			return nil, codes.Errorf(StateInvalid, err, "no trusted root in %s", metaDir)
		}
		if rootBytes, err = os.ReadFile(fallbackRoot); err != nil {
			return nil, codes.Errorf(StateInvalid, err, "reading the pinned root")
		}
	}
	cfg, err := config.New(metadataURL, rootBytes)
	if err != nil {
		return nil, codes.Errorf(StateInvalid, err, "TUF configuration")
	}
	cfg.LocalMetadataDir = metaDir
	cfg.LocalTargetsDir = metaDir // never used: targets are streamed by this package
	cfg.RemoteTargetsURL = targetsURL
	cfg.PrefixTargetsWithHash = true
	cfg.UnsafeLocalMode = o.offline
	// go-tuf uses these when the signed metadata gives no length;
	// metaFetcher applies them whatever it gives.
	cfg.RootMaxLength, cfg.TimestampMaxLength = o.limits.Root, o.limits.Timestamp
	cfg.SnapshotMaxLength, cfg.TargetsMaxLength = o.limits.Snapshot, o.limits.Targets
	var inner fetcher.Fetcher
	if path, ok := strings.CutPrefix(metadataURL, "file://"); ok {
		root := strings.TrimSuffix(path, "/metadata")
		inner = &fsfetch.Fetcher{FS: osFS, Dir: root, Prefix: "file://" + root + "/",
			Context: o.ctx, StallTimeout: o.stall, Timeout: o.metaTimeout}
	} else {
		after := o.after
		if after == nil {
			after = transport.RealAfter
		}
		inner = &transport.HTTPFetcher{Ctx: o.ctx, Client: o.httpClient, Retries: max(o.retries, 0), Backoff: o.backoff, Stall: o.stall, Timeout: o.metaTimeout, After: after}
	}
	meta := &transport.MetaFetcher{Inner: inner, Ctx: o.ctx, Prefix: strings.TrimSuffix(metadataURL, "/") + "/", Limits: o.limits}
	cfg.Fetcher = meta
	up, err := updater.New(cfg)
	if err != nil {
		return nil, codes.Errorf(codes.TUFCode(err, metadata.ROOT), err, "loading the trusted root")
	}
	if !o.now.IsZero() {
		up.UnsafeSetRefTime(o.now)
	}
	s := &tufSession{ctx: o.ctx, up: up, metaDir: metaDir, targetURL: strings.TrimSuffix(targetsURL, "/") + "/",
		fetcher: meta, metadataURL: strings.TrimSuffix(metadataURL, "/") + "/", maxTargets: cfg.TargetsMaxLength,
		maxDelegations: cfg.MaxDelegations, verified: map[delegation]*metadata.Metadata[metadata.TargetsType]{}}
	return s, nil
}

// refresh runs the TUF client workflow and makes the metadata it
// persisted durable.
func (s *tufSession) refresh() error {
	if err := s.up.Refresh(); err != nil {
		if s.ctx.Err() != nil {
			return transport.Stopped(s.ctx, "TUF refresh")
		}
		code := codes.TUFCode(err, s.refreshRole())
		if code == TargetNotFound {
			code = Network // a metadata file the repository should have is missing
		}
		return codes.Errorf(code, err, "TUF refresh")
	}
	s.consist = s.up.GetTrustedMetadataSet().Root.Signed.ConsistentSnapshot
	syncDir(s.metaDir)
	return nil
}

// refreshRole names the role whose metadata go-tuf's Refresh was loading
// when it failed, for tufCode. Online, Refresh verifies each role's
// metadata right after downloading it, and of a local copy it reports
// only the errors that are not of the ErrRepository family (it discards a
// local copy that fails a signature, version or expiry check, and
// downloads the role again): so an error whose code depends on the role
// concerns the role the fetcher was last asked for. Offline (UnsafeLocalMode)
// nothing is downloaded and the roles load in order, each only once the
// previous one is trusted: the first role missing from the trusted set is
// the one. (The trusted set alone does not do online: a local snapshot
// that is loaded but outdated stays in it while the new snapshot is
// verified.)
func (s *tufSession) refreshRole() string {
	if role := s.fetcher.LastRole(); role != "" {
		return role
	}
	ts := s.up.GetTrustedMetadataSet()
	switch {
	case ts.Timestamp == nil:
		return metadata.TIMESTAMP
	case ts.Snapshot == nil:
		return metadata.SNAPSHOT
	}
	return metadata.TARGETS
}

// A refresh persists each role as soon as it is verified, so one that
// fails or is killed half way (a dropped connection, a mirror that has the
// new snapshot but not yet the new targets) can leave timestamp.json and
// snapshot.json newer than targets.json: a set that offline sessions
// (verify, rollback, a pending trial) cannot load. After each complete
// refresh, update therefore copies the metadata to a sibling directory,
// replaced as a whole by renames, and offline sessions read that copy.
const verifiedSuffix = "-verified"

// saveVerified copies the metadata of metaDir, consistent after a complete
// refresh, to metaDir+verifiedSuffix. Best effort: an offline session
// falls back to the previous copy, then to metaDir itself.
func saveVerified(metaDir string) {
	dst := metaDir + verifiedSuffix
	tmp, old := dst+".new", dst+".old"
	os.RemoveAll(tmp)
	entries, err := os.ReadDir(metaDir)
	if err != nil || os.Mkdir(tmp, 0o700) != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(metaDir, e.Name()))
		if err != nil || os.WriteFile(filepath.Join(tmp, e.Name()), data, 0o600) != nil {
			os.RemoveAll(tmp)
			return
		}
	}
	syncDir(tmp)
	// Keep an .old copy until the new one is in place (one complete copy
	// always exists).
	if _, err := os.Stat(dst); err == nil {
		os.RemoveAll(old)
		if os.Rename(dst, old) != nil {
			os.RemoveAll(tmp)
			return
		}
	}
	if os.Rename(tmp, dst) == nil {
		syncDir(filepath.Dir(dst))
		os.RemoveAll(old)
	}
}

// verifiedDir is the metadata directory offline sessions read: the copy
// saveVerified made, the previous one if a kill came between its renames,
// or metaDir if there is none yet.
func verifiedDir(metaDir string) string {
	for _, d := range []string{metaDir + verifiedSuffix, metaDir + verifiedSuffix + ".old"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return metaDir
}

// syncDir fsyncs every file of dir and dir itself, best effort.
func syncDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue // not ours: never follow a link or open a FIFO (it blocks)
		}
		if f, err := openRegular(filepath.Join(dir, e.Name())); err == nil {
			f.Sync()
			f.Close()
		}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// targetInfo resolves the target path of a model file (a manifest, a
// payload file, a patch) through the delegation tree, as lookup does, and
// also requires a SHA-256 digest: mrepo signs model targets with their
// SHA-256, which the signed manifest and the patch headers repeat and
// which checkManifest and the delta path compare. Every other supported
// digest the target lists is checked too, wherever its bytes are.
func (s *tufSession) targetInfo(path string) (*metadata.TargetFiles, error) {
	tf, err := s.lookup(path)
	if err != nil {
		return nil, err
	}
	if len(tf.Hashes["sha256"]) != sha256.Size {
		return nil, codes.Errorf(MetadataInvalid, nil, "target %s has no SHA-256 hash", path)
	}
	return tf, nil
}

// lookup resolves any target path through the delegation tree (pre-order,
// depth first, in delegation order, stopping after a terminating
// delegation, visiting at most maxDelegations roles: the TUF
// specification's walk, as go-tuf's GetTargetInfo does it) and refuses a
// target that lists no hash algorithm the client can check.
//
// The walk is done here rather than by go-tuf because go-tuf v2.4.2 reuses
// a delegated role it loaded in an earlier lookup without verifying it
// against the delegator it is now reached through: with role R delegated
// by both A and B, R's metadata signed only by a key A trusts is accepted
// for a path B delegates, once a lookup through A has loaded it (upstream:
// theupdateframework/go-tuf#759, open; python-tuf fixed the same bug in
// theupdateframework/python-tuf#2978; the TUF conformance suite's
// test_cached_role_is_verified_against_current_delegator). loadRole
// verifies every role on the path actually walked against its delegator
// on that path. docs/design.md ("Delegated roles reached through two
// delegators") has the details.
func (s *tufSession) lookup(path string) (*metadata.TargetFiles, error) {
	notFound := func(err error) error { return codes.Errorf(TargetNotFound, err, "target %s", path) }
	if s.up.GetTrustedMetadataSet().Targets[metadata.TARGETS] == nil {
		return nil, codes.Errorf(MetadataInvalid, nil, "no trusted targets metadata")
	}
	toVisit := []delegation{{Role: metadata.TARGETS, Parent: metadata.ROOT}}
	visited := map[string]bool{}
	for len(visited) <= s.maxDelegations && len(toVisit) > 0 {
		d := toVisit[len(toVisit)-1]
		toVisit = toVisit[:len(toVisit)-1]
		if visited[d.Role] {
			continue // a cycle, or a role already searched in this lookup
		}
		md := s.up.GetTrustedMetadataSet().Targets[metadata.TARGETS]
		if d.Role != metadata.TARGETS {
			var err error
			if md, err = s.loadRole(d.Role, d.Parent); err != nil {
				return nil, codes.Errorf(CodeOf(err), err, "target %s", path)
			}
			if md == nil {
				// As go-tuf and python-tuf do: a role the snapshot does not
				// list ends the lookup, unfetched.
				return nil, notFound(fmt.Errorf("delegated role %s is not in the snapshot", d.Role))
			}
		}
		if tf, ok := md.Signed.Targets[path]; ok {
			if err := transport.CheckTargetHashes(tf); err != nil {
				return nil, codes.Errorf(MetadataInvalid, err, "target %s (role %s)", path, d.Role)
			}
			return tf, nil
		}
		visited[d.Role] = true
		if md.Signed.Delegations == nil {
			continue
		}
		var kids []delegation
		for _, r := range md.Signed.Delegations.GetRolesForTarget(path) {
			kids = append(kids, delegation{Role: r.Name, Parent: d.Role})
			if r.Terminating {
				toVisit = toVisit[:0]
				break
			}
		}
		slices.Reverse(kids) // popped from the end: first delegation first
		toVisit = append(toVisit, kids...)
	}
	return nil, notFound(fmt.Errorf("target %s not found", path))
}

// urlOf is where a target's bytes are: hash-prefixed with consistent
// snapshots, by the digest targetFileHash picks.
func (s *tufSession) urlOf(tf *metadata.TargetFiles) string {
	p := tf.Path
	if s.consist {
		dir, base := "", p
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			dir, base = p[:i+1], p[i+1:]
		}
		p = dir + hexString(transport.TargetFileHash(tf)) + "." + base
	}
	return s.targetURL + p
}

// allLoadedTargets lists every target of every role loaded so far, with
// the role that lists it, in no particular order.
func (s *tufSession) allLoadedTargets() map[string]*metadata.TargetFiles {
	out := map[string]*metadata.TargetFiles{}
	for _, md := range s.up.GetTrustedMetadataSet().Targets {
		for p, tf := range md.Signed.Targets {
			out[p] = tf
		}
	}
	return out
}

// loadRole loads the delegated targets role name, delegated by parent
// (already loaded), into the updater's trusted set, as go-tuf's updater
// loads one during a target lookup: the local copy if it verifies against
// the trusted snapshot (length, hashes, version), else the version the
// snapshot names, downloaded bounded by the length it records, then
// verified (signatures by a threshold of the keys parent delegates to it,
// version, expiry) and persisted. It returns nil without error for a role
// the snapshot does not list: the role has no metadata yet, so it signs
// nothing (a lookup routed to it fails, as TARGET_NOT_FOUND).
//
// A role already loaded (through any delegator, by this or an earlier
// walk) is verified again against parent, once per delegation: its
// signatures must meet the threshold of the keys parent delegates to it.
// go-tuf skips this (see lookup), so a role that two delegators delegate
// to would otherwise carry the trust of the first one it was reached
// through. The other checks of loading (snapshot length, hashes and
// version, expiry) do not depend on the delegator.
func (s *tufSession) loadRole(name, parent string) (*metadata.Metadata[metadata.TargetsType], error) {
	// A copy of the trusted set whose Targets map is the updater's own: what
	// is loaded through it is loaded for the updater too.
	ts := s.up.GetTrustedMetadataSet()
	if md := ts.Targets[name]; md != nil {
		if err := s.verifyDelegation(ts, name, parent, md); err != nil {
			return nil, err
		}
		return md, nil
	}
	if ts.Snapshot == nil {
		return nil, codes.Errorf(MetadataInvalid, nil, "no trusted snapshot")
	}
	mf := ts.Snapshot.Signed.Meta[name+".json"]
	if mf == nil {
		return nil, nil
	}
	file := filepath.Join(s.metaDir, url.PathEscape(name)+".json")
	if data, err := os.ReadFile(file); err == nil {
		if md, err := ts.UpdateDelegatedTargets(data, name, parent); err == nil {
			s.verified[delegation{name, parent}] = md
			return md, nil
		}
	}
	length := mf.Length
	if length == 0 {
		length = s.maxTargets
	}
	u := s.metadataURL + url.PathEscape(name) + ".json"
	if ts.Root.Signed.ConsistentSnapshot {
		u = fmt.Sprintf("%s%d.%s.json", s.metadataURL, mf.Version, url.PathEscape(name))
	}
	data, err := s.fetcher.DownloadFile(u, length, 0)
	if err != nil {
		code := codes.TUFCode(err, metadata.TARGETS)
		if code == TargetNotFound {
			code = Network // the snapshot lists it: the repository should have it
		}
		return nil, codes.Errorf(code, err, "delegated role %s", name)
	}
	md, err := ts.UpdateDelegatedTargets(data, name, parent)
	if err != nil {
		// A delegated role is a targets role: tufCode's TARGETS.
		return nil, codes.Errorf(codes.TUFCode(err, metadata.TARGETS), err, "delegated role %s", name)
	}
	s.verified[delegation{name, parent}] = md
	if err := persist(s.metaDir, file, data); err != nil {
		return nil, codes.Errorf(StateInvalid, err, "saving delegated role %s", name)
	}
	return md, nil
}

// verifyDelegation checks the loaded metadata md of role name against the
// delegation of parent (already loaded): signed by a threshold of the keys
// parent delegates to name. Each (role, parent) pair is verified once per
// session: a lookup per model version must not re-verify (re-encode and
// check) a large role every time.
func (s *tufSession) verifyDelegation(ts trustedmetadata.TrustedMetadata, name, parent string, md *metadata.Metadata[metadata.TargetsType]) error {
	d := delegation{name, parent}
	if s.verified[d] == md {
		return nil
	}
	p := ts.Targets[parent]
	if p == nil {
		return codes.Errorf(MetadataInvalid, nil, "delegated role %s: its delegator %s is not loaded", name, parent)
	}
	if err := p.VerifyDelegate(name, md); err != nil {
		return codes.Errorf(codes.TUFCode(err, metadata.TARGETS), err, "delegated role %s, as delegated by %s", name, parent)
	}
	s.verified[d] = md
	return nil
}

// persist writes a verified metadata file as go-tuf does (a tuf_tmp*
// temporary file, then a rename), and fsyncs it.
func persist(dir, file string, data []byte) error {
	f, err := os.CreateTemp(dir, "tuf_tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), file)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// maxLocalMetadata bounds the local metadata file localExpiry reads
// (go-tuf's largest default limit is 5 MB, for targets).
const maxLocalMetadata = 32 << 20

// localExpiry reads the "expires" of a local metadata file without
// verifying it; used only to pick a reference time for offline checks.
func localExpiry(path string) (time.Time, bool) {
	data, err := jsonlimit.ReadFile(path, maxLocalMetadata)
	if err != nil {
		return time.Time{}, false
	}
	var m struct {
		Signed struct {
			Expires time.Time `json:"expires"`
		} `json:"signed"`
	}
	if jsonlimit.Unmarshal(data, &m, maxLocalMetadata) != nil || m.Signed.Expires.IsZero() {
		return time.Time{}, false
	}
	return m.Signed.Expires, true
}
