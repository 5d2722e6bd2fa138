package repo

import (
	"crypto/sha256"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/status"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Helpers of the repository tests that check what the writer publishes
// with the auditor (package audit), and the writer's own handling of a
// root with an unusable key. The auditor's tests are in audit/.

// republish applies mutate to the current state and publishes new
// targets, snapshot and timestamp versions, properly signed: whatever
// mutate does is then signed and consistent, metadata-wise.
func republish(t *testing.T, fs afero.Fs, dir string, mutate func(st *state)) {
	t.Helper()
	st := current(t, fs, dir)
	mutate(st)
	ss, err := gatherSigners(st, getFixture(t).kr, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openAt(t, fs, dir, t0).publish(st, ss, true, true); err != nil {
		t.Fatal(err)
	}
}

// replaceTarget stores new bytes for a target and updates its signed
// length and hash (custom metadata unchanged).
func replaceTarget(t *testing.T, fs afero.Fs, dir string, st *state, p string, data []byte) {
	t.Helper()
	if err := afero.WriteFile(fs, targetFile(dir, p, data), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	tf := st.targets.Signed.Targets[p]
	tf.Length, tf.Hashes = int64(len(data)), metadata.Hashes{"sha256": sum[:]}
}

func fixtureRoot(t *testing.T) (*metadata.Metadata[metadata.RootType], *keys.Key) {
	t.Helper()
	f := getFixture(t)
	root, err := metadata.Root().FromBytes(f.rootJSON)
	if err != nil {
		t.Fatal(err)
	}
	return root, f.kr[f.res.RootKeyIDs[0]]
}

func problemList(rep *audit.Report) string {
	var lines []string
	for _, p := range rep.Problems {
		lines = append(lines, "  "+p.String())
	}
	return strings.Join(lines, "\n")
}

// shortKeyRoot returns the fixture root at version, signed by the root
// key, with an ed25519 key of the wrong length added to the root role
// (go-tuf accepts such a key, and panics verifying with it).
func shortKeyRoot(t *testing.T, version int64) []byte {
	t.Helper()
	root, old := fixtureRoot(t)
	root.Signed.Version = version
	bad := &metadata.Key{Type: metadata.KeyTypeEd25519, Scheme: metadata.KeySchemeEd25519, Value: metadata.KeyVal{PublicKey: "abcd"}}
	if err := root.Signed.AddKey(bad, metadata.ROOT); err != nil {
		t.Fatal(err)
	}
	s, _ := old.Signer()
	root.ClearSignatures()
	if _, err := root.Sign(s); err != nil {
		t.Fatal(err)
	}
	data, err := root.ToBytes(true)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestUnusableKeyIsAnErrorNotAPanic: a root on disk with a malformed key
// makes writers refuse and status report, without crashing.
func TestUnusableKeyIsAnErrorNotAPanic(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir := clone(t, publishedTree)
	afero.WriteFile(fs, filepath.Join(dir, MetadataDir, "2.root.json"), shortKeyRoot(t, 2), 0o644)
	r := openAt(t, fs, dir, t0)
	if _, err := r.Timestamp(f.kr); !errors.Is(err, ErrStoredMetadata) || !strings.Contains(err.Error(), "2 bytes") {
		t.Errorf("Timestamp: %v, want ErrStoredMetadata", err)
	}
	s, err := statusOf(r, status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Roles[0].Version != 2 || s.Roles[0].ValidSignatures != 1 {
		t.Errorf("root status %+v", s.Roles[0])
	}
}
