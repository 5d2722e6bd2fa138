package devstate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/safefs"
)

// TestEncryptionKeys: fleet-key, key-server and at-rest accept their good
// values (a file: fleet key stored absolute, a key server without its
// trailing slash) and refuse bad ones with a reason, changing nothing.
func TestEncryptionKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := Init(dir, []byte("{}"), InitOptions{RepoURL: "https://repo.example"}, okRoot); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, value, want string }{
		{"fleet-key", "file:/etc/edgetuf/fleet.pem", "file:/etc/edgetuf/fleet.pem"},
		{"fleet-key", "pkcs11:token=fleet;object=fleet?pin-source=file:/etc/pin", "pkcs11:token=fleet;object=fleet?pin-source=file:/etc/pin"},
		{"key-server", "https://keys.example/", "https://keys.example"},
		{"key-server", "http://127.0.0.1:8443", "http://127.0.0.1:8443"},
		{"key-server", "http://localhost:1/keys", "http://localhost:1/keys"},
		{"at-rest", "encrypted", "encrypted"},
		{"at-rest", "plaintext", "plaintext"},
	} {
		c, err := EditConfig(dir, 0, func(c *Config) error { return SetKey(c, tc.key, tc.value) })
		if err != nil {
			t.Errorf("%s %s: %v", tc.key, tc.value, err)
			continue
		}
		back, err := ReadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, cfg := range []*Config{c, back} {
			if got, _ := GetKey(cfg, tc.key); got != tc.want {
				t.Errorf("%s %s: reads back %q, want %q", tc.key, tc.value, got, tc.want)
			}
		}
	}
	// A relative file: reference is made absolute where it is given.
	wd, _ := os.Getwd()
	var c Config
	if err := SetKey(&c, "fleet-key", "file:fleet.pem"); err != nil || c.FleetKey != "file:"+filepath.Join(wd, "fleet.pem") {
		t.Errorf("relative fleet key stored as %q (%v)", c.FleetKey, err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	for _, tc := range []struct{ key, value, why string }{
		{"fleet-key", "tpm:/dev/tpmrm0", "a fleet key cannot be in a TPM"},
		{"fleet-key", "tpm", "a fleet key cannot be in a TPM"},
		{"fleet-key", "fleet.pem", "has no scheme"},
		{"fleet-key", "hsm:x", "unknown backend"},
		{"key-server", "http://keys.example", "want https://"},
		{"key-server", "file:///srv/keys", "want https://HOST"},
		{"key-server", "https://keys.example/?a=b", "must not have a query"},
		{"key-server", "ftp://keys.example", "want http://, https://"},
		{"key-server", "https://", "no host"},
		{"at-rest", "sealed", `"sealed": want plaintext or encrypted`},
		{"at-rest", "", "needs a value"},
	} {
		_, err := EditConfig(dir, 0, func(c *Config) error { return SetKey(c, tc.key, tc.value) })
		if _, ok := err.(*KeyError); !ok || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s %q: %v, want a KeyError saying %q", tc.key, tc.value, err, tc.why)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, ConfigFile)); string(after) != string(before) {
		t.Error("a refused value changed client.json")
	}
	// With require_https, a loopback http key server is refused too.
	c = Config{RequireHTTPS: true}
	if err := SetKey(&c, "key-server", "http://127.0.0.1:1"); err == nil {
		t.Error("http key server accepted with require_https")
	}
	for _, k := range []string{"fleet-key", "key-server", "at-rest"} {
		if _, err := EditConfig(dir, 0, func(c *Config) error { return UnsetKey(c, k) }); err != nil {
			t.Errorf("unset %s: %v", k, err)
		}
	}
	if back, _ := ReadConfig(dir); back.FleetKey != "" || back.KeyServer != "" || back.AtRest != "" || back.EncryptedAtRest() {
		t.Errorf("unset left %+v", back)
	}
}

// TestEncryptionConfigRead: client.json's encryption fields are checked
// as the keys are when it is read: a bad one is STATE_INVALID naming it.
func TestEncryptionConfigRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		field, value, why string
	}{
		{"fleet_key", "tpm:/dev/tpmrm0", "fleet_key"},
		{"fleet_key", "file:fleet.pem", "not an absolute path"},
		{"fleet_key", "", ""},
		{"key_server", "http://keys.example", "key_server"},
		{"key_server", "https://keys.example#x", "key_server"},
		{"key_server", "https://keys.example", ""},
		{"at_rest", "Encrypted", "at_rest"},
		{"at_rest", "encrypted", ""},
	} {
		dir := t.TempDir()
		cfg := map[string]any{"format": ConfigFormat, "repo_url": "https://repo.example", "device_class": "x", tc.field: tc.value}
		data, _ := json.Marshal(cfg)
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ReadConfig(dir)
		switch {
		case tc.why == "" && err != nil:
			t.Errorf("%s %q refused: %v", tc.field, tc.value, err)
		case tc.why != "" && (codes.CodeOf(err) != codes.StateInvalid || !strings.Contains(err.Error(), tc.why)):
			t.Errorf("%s %q: %v, want STATE_INVALID naming %q", tc.field, tc.value, err, tc.why)
		}
	}
}

// TestReadEnvelope: a kept envelope reads back; a missing one is
// KEY_UNAVAILABLE, a link or an oversized one STATE_INVALID.
func TestReadEnvelope(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sfs := safefs.New(dir)
	path := EnvelopeFile(dir, "det", "1.0.0")
	if want := filepath.Join(dir, "keys", "det", "1.0.0.age"); path != want {
		t.Fatalf("EnvelopeFile = %s, want %s", path, want)
	}
	if _, err := ReadEnvelope(sfs, dir, "det", "1.0.0", 64); codes.CodeOf(err) != codes.KeyUnavailable {
		t.Errorf("missing: %v", err)
	}
	os.MkdirAll(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte("envelope"), 0o600)
	if data, err := ReadEnvelope(sfs, dir, "det", "1.0.0", 64); err != nil || string(data) != "envelope" {
		t.Errorf("read %q, %v", data, err)
	}
	if _, err := ReadEnvelope(sfs, dir, "det", "1.0.0", 4); codes.CodeOf(err) != codes.StateInvalid {
		t.Errorf("oversized: %v", err)
	}
	os.Remove(path)
	os.Symlink(filepath.Join(dir, "elsewhere"), path)
	if _, err := ReadEnvelope(sfs, dir, "det", "1.0.0", 64); codes.CodeOf(err) != codes.StateInvalid {
		t.Errorf("link: %v", err)
	}
}

// TestDiscardVersionDropsEnvelope: discarding a revoked version kept
// encrypted at rest removes its kept key envelope with it (GC does so for
// the versions it drops).
func TestDiscardVersionDropsEnvelope(t *testing.T) {
	dir := t.TempDir()
	p := Paths(dir, "det")
	for _, d := range []string{p.Version("2.0.0"), p.Keys} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(p.Version("2.0.0"), "model.bin"), p.Envelope("2.0.0"), p.Envelope("1.0.0")} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if discarded, err := DiscardVersion(p, "2.0.0"); err != nil || !discarded {
		t.Fatalf("DiscardVersion: %v %v", discarded, err)
	}
	if _, err := os.Lstat(p.Envelope("2.0.0")); !os.IsNotExist(err) {
		t.Fatalf("the revoked version's envelope is still kept: %v", err)
	}
	if _, err := os.Lstat(p.Envelope("1.0.0")); err != nil {
		t.Fatalf("another version's envelope: %v", err)
	}
}

// TestRecoverCleansKeysDir: a temporary file that a process killed while
// it stored a key envelope left beside the kept envelopes is removed by
// Recover; the envelopes stay.
func TestRecoverCleansKeysDir(t *testing.T) {
	dir := t.TempDir()
	p := Paths(dir, "det")
	if err := os.MkdirAll(p.Keys, 0o700); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(p.Keys, ".tmp-123456")
	for _, f := range []string{tmp, p.Envelope("1.0.0")} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Recover(dir, p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tmp); !os.IsNotExist(err) {
		t.Fatalf("the killed write's temporary file is still there: %v", err)
	}
	if _, err := os.Lstat(p.Envelope("1.0.0")); err != nil {
		t.Fatalf("the kept envelope: %v", err)
	}
}
