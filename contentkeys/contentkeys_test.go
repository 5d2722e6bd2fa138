package contentkeys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/release"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
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

func manifestCustom(t *testing.T, version string, encrypted bool) *targets.Custom {
	t.Helper()
	c := &targets.Custom{Kind: targets.KindManifest, SchemaVersion: targets.SchemaVersion, ModelID: "det", Version: version, Files: []string{"w.bin"}}
	if encrypted {
		c.Encrypted = &targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: "age1gc6vpl4alag8d5e95m9quv2pxs8ctxcvcnd9rmtqp9tkg84skyvql3frmv", Delivery: targets.DeliveryDevice}
	}
	return c
}

// TestForPublication: the store is opened only when a key is needed, and
// every key a publication needs is found before anything is stored.
func TestForPublication(t *testing.T) {
	dir := t.TempDir()
	m := &targets.Manifest{ModelID: "det", Version: "3.0.0"}
	view := map[string]*metadata.TargetFiles{}
	calls := 0
	opener := func(pass string) func() (*Store, error) {
		return func() (*Store, error) { calls++; return Open(dir, pass) }
	}
	plainBase := []release.Base{{Version: "1.0.0", Custom: manifestCustom(t, "1.0.0", false)}}
	p, err := ForPublication(opener(right), view, m, plainBase, false)
	if err != nil || p.Key != nil || len(p.Base) != 0 || calls != 0 {
		t.Fatalf("nothing encrypted: %+v, %v, store opened %d times", p, err, calls)
	}
	encBase := []release.Base{{Version: "2.0.0", Custom: manifestCustom(t, "2.0.0", true)}}
	if _, err := ForPublication(nil, view, m, encBase, false); err == nil || !strings.Contains(err.Error(), "delta base 2.0.0 is encrypted: content keys: no content key store") {
		t.Errorf("no store: %v", err)
	}
	if _, err := ForPublication(opener(right), view, m, encBase, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("base key missing: %v", err)
	}
	k2, _ := open(t, dir, right).Create("det", "2.0.0")
	calls = 0
	p, err = ForPublication(opener(right), view, m, append(plainBase, encBase...), true)
	if err != nil || p.Base["2.0.0"].Recipient() != k2.Recipient() || p.Key == nil || calls != 1 {
		t.Fatalf("%+v, %v, store opened %d times", p, err, calls)
	}
	if _, err := ForPublication(opener(wrong), view, m, encBase, false); err == nil {
		t.Error("a wrong passphrase opened the base key")
	}
}
