// Package testrepo builds real TUF repositories with mrepo's code for the
// tests of the device client, and serves them on 127.0.0.1 with hooks to
// misbehave. A ceremony is slow (scrypt), so each kind of repository is
// made once per test process and copied for each test (template.go, on
// internal/testrepo/treecache). It is test support only: the keys it
// makes are throwaway, protected by a test-only passphrase.
package testrepo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/server"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Passphrase protects every key testrepo creates. Test-only.
const Passphrase = "test-only-passphrase"

// Repo is a repository on disk with its keys in memory.
type Repo struct {
	Dir  string // the repository (metadata/, targets/)
	Keys keys.MemKeyring
	Root []byte // 1.root.json, to pin in a device
	R    *repo.Repository
	fs   afero.Fs
}

// New returns a repository made by a ceremony with one key per role, in
// a temporary directory of t's: a copy of a template made once per test
// process (see template.go), so its keys are those of every other
// repository New returns in this process.
func New(t testing.TB) *Repo {
	t.Helper()
	return NewWithExpiry(t, nil)
}

// NewWithExpiry is New with custom metadata lifetimes (nil: the
// defaults). Each lifetime has its own template.
func NewWithExpiry(t testing.TB, exp *repo.Expiry) *Repo {
	t.Helper()
	k := templateKey{}
	if exp != nil {
		k.expiry, k.customExpiry = *exp, true
	}
	r, _ := fromTemplate(t, k)
	return r
}

// Publish publishes a bundle with the given payload files and constraints.
func (r *Repo) Publish(t testing.TB, modelID, version string, files map[string][]byte, compat targets.Compat) {
	t.Helper()
	r.PublishOpts(t, modelID, version, files, compat, repo.AddOptions{})
}

// PublishWithDeltas publishes a bundle like Publish and, for each version
// in deltaFrom (published versions of the same model, older than version),
// a patch of every payload file that the base version also has, as
// add-target --delta-from does. A patch that saves less than 30% of the
// file's bytes is not published; the result says which were.
func (r *Repo) PublishWithDeltas(t testing.TB, modelID, version string, files map[string][]byte, compat targets.Compat, deltaFrom []string) *repo.AddResult {
	t.Helper()
	return r.PublishOpts(t, modelID, version, files, compat, repo.AddOptions{DeltaFrom: deltaFrom})
}

// PublishOpts publishes a bundle with the given payload files and
// constraints and any AddOptions (DeltaFrom, DeltaMinSaving, ...), and
// returns the publication's result.
func (r *Repo) PublishOpts(t testing.TB, modelID, version string, files map[string][]byte, compat targets.Compat, opts repo.AddOptions) *repo.AddResult {
	t.Helper()
	return r.PublishAs(t, r.Keys, modelID, version, files, compat, opts)
}

// PublishAs is PublishOpts signed with the keys of kr only: a team
// publishing into its delegated role (opts.Role) holds its own key and
// the snapshot and timestamp keys, not the targets key.
func (r *Repo) PublishAs(t testing.TB, kr keys.Keyring, modelID, version string, files map[string][]byte, compat targets.Compat, opts repo.AddOptions) *repo.AddResult {
	t.Helper()
	bundle := filepath.Join(t.TempDir(), "bundle")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	m := targets.Manifest{ModelID: modelID, Version: version, Compat: compat}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, targets.ManifestName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(bundle, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := r.R.AddTarget(bundle, kr, opts)
	if err != nil {
		t.Fatalf("testrepo: publish %s %s: %v", modelID, version, err)
	}
	return res
}

// Keyring returns a new keyring holding r.Keys and extra keys (a team's).
func (r *Repo) Keyring(extra ...*keys.Key) keys.MemKeyring {
	kr := keys.MemKeyring{}
	for id, k := range r.Keys {
		kr[id] = k
	}
	return kr.Add(extra...)
}

// OnlineKeyring returns a keyring of extra keys plus the snapshot and
// timestamp keys, without the targets key: what a team's CI holds.
func (r *Repo) OnlineKeyring(t testing.TB, extra ...*keys.Key) keys.MemKeyring {
	t.Helper()
	root, err := metadata.Root().FromBytes(r.Root)
	if err != nil {
		t.Fatal(err)
	}
	kr := keys.MemKeyring{}
	for _, role := range []string{metadata.SNAPSHOT, metadata.TIMESTAMP} {
		for _, id := range root.Signed.Roles[role].KeyIDs {
			if k := r.Keys[id]; k != nil {
				kr.Add(k)
			}
		}
	}
	return kr.Add(extra...)
}

// Delegate runs mrepo delegate with r.Keys plus extra keys (a new role's
// own keys, to sign its first metadata at once; the bins' keys).
func (r *Repo) Delegate(t testing.TB, opts delegation.Options, extra ...*keys.Key) *repo.DelegateResult {
	t.Helper()
	res, err := r.R.Delegate(r.Keyring(extra...), opts)
	if err != nil {
		t.Fatalf("testrepo: delegate: %v", err)
	}
	return res
}

// TeamKey generates a throwaway key for a delegated role and returns it
// with its public half, ready for DelegateOptions.Keys.
func TeamKey(t testing.TB, name string) (*keys.Key, *metadata.Key) {
	t.Helper()
	k, err := keys.Generate(name, keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return k, k.Public
}

// Timestamp re-signs the timestamp.
func (r *Repo) Timestamp(t testing.TB) {
	t.Helper()
	if _, err := r.R.Timestamp(r.Keys); err != nil {
		t.Fatal(err)
	}
}

// SetNow sets the repository's clock (for expiries).
func (r *Repo) SetNow(now func() time.Time) { r.R.Now = now }

// Handler serves the repository.
func (r *Repo) Handler() http.Handler { return server.Handler(r.fs, r.Dir) }

// Serve starts a loopback server; wrap, if not nil, sits in front of the
// repository handler to misbehave. It returns the repository URL.
func (r *Repo) Serve(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	h := r.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TargetFile returns the on-disk path of a published target's bytes.
func (r *Repo) TargetFile(t testing.TB, targetPath string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(r.Dir, "targets", filepath.Dir(targetPath), "*."+filepath.Base(targetPath)))
	if len(matches) != 1 {
		t.Fatalf("testrepo: %d files for %s", len(matches), targetPath)
	}
	return matches[0]
}
