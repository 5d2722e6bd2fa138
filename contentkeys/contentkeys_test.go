package contentkeys

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/spf13/afero"
)

// Test-only passphrases.
const (
	right = "test-only-right"
	wrong = "test-only-wrong"
)

func open(t *testing.T, dir, pass string) *Store {
	t.Helper()
	s, err := Open(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCreateSyncsDirectories: Create fsyncs the directories that hold
// the new content/ and content/<model>/ directories, so their names
// survive a power cut as the key file does (atomicfs.WriteFile syncs only
// the key's own directory).
func TestCreateSyncsDirectories(t *testing.T) {
	dir := t.TempDir()
	var synced []string
	defer func(f func(afero.Fs, string) error) { syncDir = f }(syncDir)
	syncDir = func(fs afero.Fs, d string) error {
		synced = append(synced, d)
		return atomicfs.SyncDir(fs, d)
	}
	if _, err := open(t, dir, right).Create("det", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{dir, filepath.Join(dir, "content")} {
		if !slices.Contains(synced, want) {
			t.Errorf("%s not synced (synced: %v)", want, synced)
		}
	}
	syncDir = func(afero.Fs, string) error { return errors.New("test-only sync failure") }
	if _, err := open(t, dir, right).Create("det", "2.0.0"); err == nil || !strings.Contains(err.Error(), "test-only sync failure") {
		t.Errorf("a failed directory sync: %v", err)
	}
}

// TestCreateNeverReplacesARivalKey: another process (a repository
// sharing the --keys directory) stores the version's key between Create's
// look and its write. Create fails with ErrExists and leaves the rival's
// key, which may be signed already; ForVersion then uses the rival's key.
// No temporary file is left.
func TestCreateNeverReplacesARivalKey(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, right)
	defer func() { beforeLink = nil }()
	var rival *modelcrypt.ContentKey
	storeRival := func(version string) func() {
		return func() {
			beforeLink = nil
			var err error
			if rival, err = s.Create("det", version); err != nil {
				t.Fatal(err)
			}
		}
	}
	beforeLink = storeRival("1.0.0")
	if _, err := s.Create("det", "1.0.0"); !errors.Is(err, ErrExists) {
		t.Fatalf("Create over a rival's key: %v", err)
	}
	if got, err := s.Get("det", "1.0.0"); err != nil || got.Recipient() != rival.Recipient() {
		t.Fatalf("the rival's key was replaced (%v)", err)
	}
	beforeLink = storeRival("2.0.0")
	got, err := s.ForVersion("det", "2.0.0", "1.0.0")
	if err != nil || got.Recipient() != rival.Recipient() {
		t.Fatalf("ForVersion with a rival: %v", err)
	}
	if stored, err := s.Get("det", "2.0.0"); err != nil || stored.Recipient() != rival.Recipient() {
		t.Fatalf("the rival's key was replaced (%v)", err)
	}
	names, _ := os.ReadDir(filepath.Join(dir, "content", "det"))
	if len(names) != 2 {
		t.Errorf("content/det holds %d files, want the two keys", len(names))
	}
}

// TestStore: a key is created 0600 in 0700 directories, read back with
// the passphrase, never overwritten; a wrong passphrase and a file others
// may read are refused.
func TestStore(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, right)
	k, err := s.Create("det", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Path("det", "1.0.0")
	for path, want := range map[string]os.FileMode{p: 0o600, filepath.Dir(p): 0o700, filepath.Join(dir, "content"): 0o700} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", path, fi.Mode().Perm(), err, want)
		}
	}
	if got, err := s.Get("det", "1.0.0"); err != nil || got.Recipient() != k.Recipient() {
		t.Fatalf("Get: %v", err)
	}
	if _, err := s.Create("det", "1.0.0"); err == nil {
		t.Error("a stored key was overwritten")
	}
	if _, err := open(t, dir, wrong).Get("det", "1.0.0"); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("wrong passphrase: %v", err)
	}
	if _, err := s.Get("det", "2.0.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing key: %v", err)
	}
	if _, err := s.Get("../x", "1.0.0"); err == nil {
		t.Error("a model ID that escapes was accepted")
	}
	if _, err := Open(dir, ""); err == nil {
		t.Error("an empty passphrase was accepted")
	}
	os.Chmod(p, 0o644)
	if _, err := s.Get("det", "1.0.0"); err == nil {
		t.Error("a key file readable by others was used")
	}
}

// TestForVersion: a stored key of the version is reused; a new one needs
// the passphrase to open the previous version's key.
func TestForVersion(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, right)
	k1, err := s.ForVersion("det", "1.0.0", "")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.ForVersion("det", "1.0.0", ""); err != nil || again.Recipient() != k1.Recipient() {
		t.Fatalf("second call: %v", err)
	}
	if _, err := open(t, dir, wrong).ForVersion("det", "2.0.0", "1.0.0"); err == nil || !strings.Contains(err.Error(), "does not open the key of det 1.0.0") {
		t.Errorf("wrong passphrase: %v", err)
	}
	if _, err := s.Get("det", "2.0.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a key was stored after a wrong passphrase: %v", err)
	}
	if _, err := s.ForVersion("det", "2.0.0", "1.0.0"); err != nil {
		t.Error(err)
	}
}
