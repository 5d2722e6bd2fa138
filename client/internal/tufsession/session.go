package tufsession

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/rootchain"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/spf13/afero"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/fsfetch"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// CheckRoot accepts only a root that parses and is signed by its own
// threshold: the pinned root must be usable before anything is trusted.
func CheckRoot(rootJSON []byte) error {
	root, err := metadata.Root().FromBytes(rootJSON)
	if err != nil {
		return codes.Errorf(codes.MetadataInvalid, err, "trusted root")
	}
	if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
		return codes.Errorf(codes.MetadataSignatureInvalid, err, "trusted root is not signed by its own threshold")
	}
	return nil
}

// Session is one TUF refresh with go-tuf's updater: metadata is read
// from and persisted to metaDir, fetched from repoURL/metadata.
type Session struct {
	ctx       context.Context // bounds the session's downloads
	log       *slog.Logger
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

// Options are what a session needs besides its directories.
type Options struct {
	// Ctx bounds every download of the session (go-tuf's Refresh takes no
	// context: the fetcher carries this one). nil: never ends.
	Ctx        context.Context
	HTTPClient *http.Client
	Now        time.Time        // reference time for expiry (zero: the clock)
	Offline    bool             // use only local metadata (UnsafeLocalMode)
	Limits     transport.Limits // required
	// Retries, Backoff, Stall and MetaTimeout as in client.Options.
	Retries     int
	Backoff     time.Duration
	Stall       time.Duration
	MetaTimeout time.Duration
	After       transport.AfterFunc // nil: real timers
	Log         *slog.Logger        // a debug record per refresh (nil: none)
	// Chain, if set, is the root pinned in the device image and the chain
	// cache: the session trusts only roots that chain from it (package
	// rootchain), and fallbackRoot is not used.
	Chain *rootchain.Source
}

// New builds an updater. The trusted root is metaDir/root.json,
// which go-tuf keeps at the newest verified root; if it is missing or
// damaged (a power cut while go-tuf wrote it: go-tuf does not fsync) the
// pinned root in fallbackRoot is used instead, and the root chain is
// simply walked again from there.
func New(metaDir, metadataURL, targetsURL, fallbackRoot string, o Options) (*Session, error) {
	if o.Ctx == nil {
		o.Ctx = context.Background()
	}
	var chain *rootchain.Chain
	rootBytes, err := os.ReadFile(filepath.Join(metaDir, "root.json"))
	if o.Chain != nil {
		if chain, rootBytes, err = openChain(*o.Chain, metaDir, rootBytes, err, o); err != nil {
			return nil, err
		}
	} else if err != nil || CheckRoot(rootBytes) != nil {
		if fallbackRoot == "" {
			if err == nil {
				return nil, CheckRoot(rootBytes)
			}
			return nil, codes.Errorf(codes.StateInvalid, err, "no trusted root in %s", metaDir)
		}
		if rootBytes, err = os.ReadFile(fallbackRoot); err != nil {
			return nil, codes.Errorf(codes.StateInvalid, err, "reading the pinned root")
		}
	}
	cfg, err := config.New(metadataURL, rootBytes)
	if err != nil {
		return nil, codes.Errorf(codes.StateInvalid, err, "TUF configuration")
	}
	cfg.LocalMetadataDir = metaDir
	cfg.LocalTargetsDir = metaDir // never used: targets are streamed by this package
	cfg.RemoteTargetsURL = targetsURL
	cfg.PrefixTargetsWithHash = true
	cfg.UnsafeLocalMode = o.Offline
	// go-tuf uses these when the signed metadata gives no length;
	// metaFetcher applies them whatever it gives.
	cfg.RootMaxLength, cfg.TimestampMaxLength = o.Limits.Root, o.Limits.Timestamp
	cfg.SnapshotMaxLength, cfg.TargetsMaxLength = o.Limits.Snapshot, o.Limits.Targets
	var inner fetcher.Fetcher
	if path, ok := strings.CutPrefix(metadataURL, "file://"); ok {
		root := strings.TrimSuffix(path, "/metadata")
		inner = &fsfetch.Fetcher{FS: afero.NewOsFs(), Dir: root, Prefix: "file://" + root + "/",
			Context: o.Ctx, StallTimeout: o.Stall, Timeout: o.MetaTimeout}
	} else {
		after := o.After
		if after == nil {
			after = transport.RealAfter
		}
		inner = &transport.HTTPFetcher{Ctx: o.Ctx, Client: o.HTTPClient, Retries: max(o.Retries, 0), Backoff: o.Backoff, Stall: o.Stall, Timeout: o.MetaTimeout, After: after}
	}
	meta := &transport.MetaFetcher{Inner: inner, Ctx: o.Ctx, Prefix: strings.TrimSuffix(metadataURL, "/") + "/", Limits: o.Limits}
	cfg.Fetcher = meta
	if chain != nil && !o.Offline {
		if cfg.LocalTrustedRoot, err = extendChain(chain, meta, int(cfg.MaxRootRotations), metaDir); err != nil {
			return nil, err
		}
		cfg.Fetcher = chainedFetcher{meta}
	}
	up, err := updater.New(cfg)
	if err != nil {
		return nil, codes.Errorf(codes.TUFCode(err, metadata.ROOT), err, "loading the trusted root")
	}
	if !o.Now.IsZero() {
		up.UnsafeSetRefTime(o.Now)
	}
	s := &Session{ctx: o.Ctx, log: o.Log, up: up, metaDir: metaDir, targetURL: strings.TrimSuffix(targetsURL, "/") + "/",
		fetcher: meta, metadataURL: strings.TrimSuffix(metadataURL, "/") + "/", maxTargets: cfg.TargetsMaxLength,
		maxDelegations: cfg.MaxDelegations, verified: map[delegation]*metadata.Metadata[metadata.TargetsType]{}}
	meta.Stale = s.stale
	return s, nil
}

// Refresh runs the TUF client workflow and makes the metadata it
// persisted durable.
func (s *Session) Refresh() error {
	if err := s.up.Refresh(); err != nil {
		if s.ctx.Err() != nil {
			return transport.Stopped(s.ctx, "TUF refresh")
		}
		code := codes.TUFCode(err, s.refreshRole())
		if code == codes.TargetNotFound {
			code = codes.Network // a metadata file the repository should have is missing
		}
		return codes.Errorf(code, err, "TUF refresh")
	}
	trusted := s.up.GetTrustedMetadataSet()
	s.consist = trusted.Root.Signed.ConsistentSnapshot
	devstate.SyncDir(s.metaDir)
	if s.log != nil {
		s.log.Debug("refreshed metadata", "root", trusted.Root.Signed.Version, "timestamp", trusted.Timestamp.Signed.Version,
			"snapshot", trusted.Snapshot.Signed.Version, "targets", trusted.Targets[metadata.TARGETS].Signed.Version)
	}
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
func (s *Session) refreshRole() string {
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

// TargetInfo resolves the target path of a model file (a manifest, a
// payload file, a patch) through the delegation tree, as lookup does, and
// also requires a SHA-256 digest: mrepo signs model targets with their
// SHA-256, which the signed manifest and the patch headers repeat and
// which checkManifest and the delta path compare. Every other supported
// digest the target lists is checked too, wherever its bytes are.
func (s *Session) TargetInfo(path string) (*metadata.TargetFiles, error) {
	tf, err := s.Lookup(path)
	if err != nil {
		return nil, err
	}
	if len(tf.Hashes["sha256"]) != sha256.Size {
		return nil, codes.Errorf(codes.MetadataInvalid, nil, "target %s has no SHA-256 hash", path)
	}
	return tf, nil
}

// Lookup resolves any target path through the delegation tree (pre-order,
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
func (s *Session) Lookup(path string) (*metadata.TargetFiles, error) {
	notFound := func(err error) error { return codes.Errorf(codes.TargetNotFound, err, "target %s", path) }
	if s.up.GetTrustedMetadataSet().Targets[metadata.TARGETS] == nil {
		return nil, codes.Errorf(codes.MetadataInvalid, nil, "no trusted targets metadata")
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
				return nil, codes.Errorf(codes.CodeOf(err), err, "target %s", path)
			}
			if md == nil {
				// As go-tuf and python-tuf do: a role the snapshot does not
				// list ends the lookup, unfetched.
				return nil, notFound(fmt.Errorf("delegated role %s is not in the snapshot", d.Role))
			}
		}
		if tf, ok := md.Signed.Targets[path]; ok {
			if err := transport.CheckTargetHashes(tf); err != nil {
				return nil, codes.Errorf(codes.MetadataInvalid, err, "target %s (role %s)", path, d.Role)
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

// URLOf is where a target's bytes are: hash-prefixed with consistent
// snapshots, by the digest targetFileHash picks.
func (s *Session) URLOf(tf *metadata.TargetFiles) string {
	p := tf.Path
	if s.consist {
		dir, base := "", p
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			dir, base = p[:i+1], p[i+1:]
		}
		p = dir + hex.EncodeToString(transport.TargetFileHash(tf)) + "." + base
	}
	return s.targetURL + p
}

// AllLoadedTargets lists every target of every role loaded so far, with
// the role that lists it, in no particular order.
func (s *Session) AllLoadedTargets() map[string]*metadata.TargetFiles {
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
func (s *Session) loadRole(name, parent string) (*metadata.Metadata[metadata.TargetsType], error) {
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
		return nil, codes.Errorf(codes.MetadataInvalid, nil, "no trusted snapshot")
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
		if code == codes.TargetNotFound {
			code = codes.Network // the snapshot lists it: the repository should have it
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
		return nil, codes.Errorf(codes.StateInvalid, err, "saving delegated role %s", name)
	}
	return md, nil
}

// verifyDelegation checks the loaded metadata md of role name against the
// delegation of parent (already loaded): signed by a threshold of the keys
// parent delegates to name. Each (role, parent) pair is verified once per
// session: a lookup per model version must not re-verify (re-encode and
// check) a large role every time.
func (s *Session) verifyDelegation(ts trustedmetadata.TrustedMetadata, name, parent string, md *metadata.Metadata[metadata.TargetsType]) error {
	d := delegation{name, parent}
	if s.verified[d] == md {
		return nil
	}
	p := ts.Targets[parent]
	if p == nil {
		return codes.Errorf(codes.MetadataInvalid, nil, "delegated role %s: its delegator %s is not loaded", name, parent)
	}
	if err := p.VerifyDelegate(name, md); err != nil {
		return codes.Errorf(codes.TUFCode(err, metadata.TARGETS), err, "delegated role %s, as delegated by %s", name, parent)
	}
	s.verified[d] = md
	return nil
}

// MetaDir is the directory the session reads and persists metadata in.
func (s *Session) MetaDir() string { return s.metaDir }
