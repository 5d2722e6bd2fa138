package client

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/fsfetch"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// checkRoot accepts only a root that parses and is signed by its own
// threshold: the pinned root must be usable before anything is trusted.
func checkRoot(rootJSON []byte) error {
	root, err := metadata.Root().FromBytes(rootJSON)
	if err != nil {
		return errorf(MetadataInvalid, err, "trusted root")
	}
	if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
		return errorf(MetadataSignatureInvalid, err, "trusted root is not signed by its own threshold")
	}
	return nil
}

// tufSession is one TUF refresh with go-tuf's updater: metadata is read
// from and persisted to metaDir, fetched from repoURL/metadata.
type tufSession struct {
	up        *updater.Updater
	metaDir   string
	targetURL string // base URL of targets, with a trailing slash
	consist   bool   // consistent snapshots: target files are hash-prefixed
	// What loadRole needs to fetch delegated roles as go-tuf does.
	fetcher     fetcher.Fetcher
	metadataURL string
	maxTargets  int64
}

// tufOptions are what a session needs besides its directories.
type tufOptions struct {
	httpClient *http.Client
	now        time.Time // reference time for expiry (zero: the clock)
	offline    bool      // use only local metadata (UnsafeLocalMode)
}

// newTUFSession builds an updater. The trusted root is metaDir/root.json,
// which go-tuf keeps at the newest verified root; if it is missing or
// damaged (a power cut while go-tuf wrote it: go-tuf does not fsync) the
// pinned root in fallbackRoot is used instead, and the root chain is
// simply walked again from there.
func newTUFSession(metaDir, metadataURL, targetsURL, fallbackRoot string, o tufOptions) (*tufSession, error) {
	rootBytes, err := os.ReadFile(filepath.Join(metaDir, "root.json"))
	if err != nil || checkRoot(rootBytes) != nil {
		if fallbackRoot == "" {
			if err == nil {
				return nil, checkRoot(rootBytes)
			}
			return nil, errorf(StateInvalid, err, "no trusted root in %s", metaDir)
		}
		if rootBytes, err = os.ReadFile(fallbackRoot); err != nil {
			return nil, errorf(StateInvalid, err, "reading the pinned root")
		}
	}
	cfg, err := config.New(metadataURL, rootBytes)
	if err != nil {
		return nil, errorf(StateInvalid, err, "TUF configuration")
	}
	cfg.LocalMetadataDir = metaDir
	cfg.LocalTargetsDir = metaDir // never used: targets are streamed by this package
	cfg.RemoteTargetsURL = targetsURL
	cfg.PrefixTargetsWithHash = true
	cfg.UnsafeLocalMode = o.offline
	if path, ok := strings.CutPrefix(metadataURL, "file://"); ok {
		root := strings.TrimSuffix(path, "/metadata")
		cfg.Fetcher = &fsfetch.Fetcher{FS: osFS, Dir: root, Prefix: "file://" + root + "/"}
	} else {
		cfg.Fetcher = &httpFetcher{client: o.httpClient, retries: 2, backoff: 300 * time.Millisecond}
	}
	up, err := updater.New(cfg)
	if err != nil {
		return nil, wrap(err, "loading the trusted root")
	}
	if !o.now.IsZero() {
		up.UnsafeSetRefTime(o.now)
	}
	s := &tufSession{up: up, metaDir: metaDir, targetURL: strings.TrimSuffix(targetsURL, "/") + "/",
		fetcher: cfg.Fetcher, metadataURL: strings.TrimSuffix(metadataURL, "/") + "/", maxTargets: cfg.TargetsMaxLength}
	return s, nil
}

// refresh runs the TUF client workflow and makes the metadata it
// persisted durable.
func (s *tufSession) refresh() error {
	if err := s.up.Refresh(); err != nil {
		code := classify(err)
		if code == TargetNotFound {
			code = Network // a metadata file the repository should have is missing
		}
		return errorf(code, err, "TUF refresh")
	}
	s.consist = s.up.GetTrustedMetadataSet().Root.Signed.ConsistentSnapshot
	syncDir(s.metaDir)
	return nil
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

// targetInfo resolves a target path through the delegation tree.
func (s *tufSession) targetInfo(path string) (*metadata.TargetFiles, error) {
	tf, err := s.up.GetTargetInfo(path)
	if err != nil {
		code := classify(err)
		if code == MetadataInvalid && strings.Contains(err.Error(), "not found") {
			code = TargetNotFound
		}
		return nil, errorf(code, err, "target %s", path)
	}
	if len(tf.Hashes["sha256"]) != 32 {
		return nil, errorf(MetadataInvalid, nil, "target %s has no SHA-256 hash", path)
	}
	return tf, nil
}

// targetURL is where a target's bytes are: hash-prefixed with consistent
// snapshots, as go-tuf computes it.
func (s *tufSession) urlOf(tf *metadata.TargetFiles) string {
	p := tf.Path
	if s.consist {
		dir, base := "", p
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			dir, base = p[:i+1], p[i+1:]
		}
		p = dir + hexString(tf.Hashes["sha256"]) + "." + base
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
// (already loaded), into the updater's trusted set, exactly as go-tuf's
// updater loads one during a target lookup: the local copy if it verifies
// against the trusted snapshot (length, hashes, version), else the version
// the snapshot names, downloaded bounded by the length it records, then
// verified (signatures by a threshold of the keys parent delegates to it,
// version, expiry) and persisted. go-tuf's own lookups (GetTargetInfo)
// then find the role loaded. It returns nil without error for a role the
// snapshot does not list: the role has no metadata yet, so it signs
// nothing (a lookup go-tuf routes to it fails, as TARGET_NOT_FOUND).
func (s *tufSession) loadRole(name, parent string) (*metadata.Metadata[metadata.TargetsType], error) {
	// A copy of the trusted set whose Targets map is the updater's own: what
	// is loaded through it is loaded for the updater too (and if a later
	// go-tuf copied the map, its lookups would load the role themselves).
	ts := s.up.GetTrustedMetadataSet()
	if md := ts.Targets[name]; md != nil {
		return md, nil
	}
	if ts.Snapshot == nil {
		return nil, errorf(MetadataInvalid, nil, "no trusted snapshot")
	}
	mf := ts.Snapshot.Signed.Meta[name+".json"]
	if mf == nil {
		return nil, nil
	}
	file := filepath.Join(s.metaDir, url.PathEscape(name)+".json")
	if data, err := os.ReadFile(file); err == nil {
		if md, err := ts.UpdateDelegatedTargets(data, name, parent); err == nil {
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
		code := classify(err)
		if code == TargetNotFound {
			code = Network // the snapshot lists it: the repository should have it
		}
		return nil, errorf(code, err, "delegated role %s", name)
	}
	md, err := ts.UpdateDelegatedTargets(data, name, parent)
	if err != nil {
		return nil, errorf(classify(err), err, "delegated role %s", name)
	}
	if err := persist(s.metaDir, file, data); err != nil {
		return nil, errorf(StateInvalid, err, "saving delegated role %s", name)
	}
	return md, nil
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

// localExpiry reads the "expires" of a local metadata file without
// verifying it; used only to pick a reference time for offline checks.
func localExpiry(path string) (time.Time, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, false
	}
	var m struct {
		Signed struct {
			Expires time.Time `json:"expires"`
		} `json:"signed"`
	}
	if json.Unmarshal(data, &m) != nil || m.Signed.Expires.IsZero() {
		return time.Time{}, false
	}
	return m.Signed.Expires, true
}

// httpFetcher fetches metadata for go-tuf: bounded by maxLength, retried on
// network errors and server errors but not on 404 (which is how go-tuf
// learns that no newer root exists, on every refresh).
type httpFetcher struct {
	client  *http.Client
	retries int
	backoff time.Duration
}

func (f *httpFetcher) DownloadFile(urlPath string, maxLength int64, _ time.Duration) ([]byte, error) {
	var err error
	delay := f.backoff
	for attempt := 0; ; attempt++ {
		var data []byte
		var retry bool
		data, retry, err = f.once(urlPath, maxLength)
		if err == nil || !retry || attempt >= f.retries {
			return data, err
		}
		time.Sleep(delay)
		delay *= 2
	}
}

func (f *httpFetcher) once(urlPath string, maxLength int64) ([]byte, bool, error) {
	resp, err := f.client.Get(urlPath)
	if err != nil {
		return nil, true, &metadata.ErrDownload{Msg: err.Error()}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode >= 500, &metadata.ErrDownloadHTTP{StatusCode: resp.StatusCode, URL: urlPath}
	}
	if resp.ContentLength > maxLength {
		return nil, false, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is %d bytes, more than the %d allowed", urlPath, resp.ContentLength, maxLength)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLength+1))
	if err != nil {
		return nil, true, &metadata.ErrDownload{Msg: err.Error()}
	}
	if int64(len(data)) > maxLength {
		return nil, false, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is more than the %d bytes allowed", urlPath, maxLength)}
	}
	return data, false, nil
}
