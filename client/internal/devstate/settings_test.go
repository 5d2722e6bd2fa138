package devstate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/anti_rollback"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/targets"
)

func okRoot([]byte) error { return nil }

// TestKeysRoundTrip: every key set with a good value reads back; unset
// clears it; the stored file reads back the same.
func TestKeysRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := Init(dir, []byte("{}"), InitOptions{RepoURL: "https://repo.example"}, okRoot); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("tok\n"), 0o600)
	good := map[string]string{
		"repo-url": "https://cdn.example/models", "app-version": "2.4.0", "runtime": "onnxruntime@1.17.1", "platform": "linux/arm64",
		"variant": "lite", "input-schema-hash": "aa", "output-schema-hash": "bb", "preprocess-config-hash": "cc",
		"health-check": "/bin/true", "health-timeout": "1m30s", "keep": "3", "no-delta": "true", "retries": "0",
		"stall-timeout": "10s", "timeout": "2h0m0s", "auth-token-file": token,
		"telemetry-url": "https://telemetry.example/fleet", "os-version": "22.04",
	}
	c, err := EditConfig(dir, 0, func(c *Config) error {
		for _, k := range Keys() {
			if v, ok := good[k]; ok {
				if err := SetKey(c, k, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range good {
		for _, cfg := range []*Config{c, back} {
			if got, _ := GetKey(cfg, k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
	}
	if d := back.Settings.Device(); d.Runtime != "onnxruntime" || d.RuntimeVersion != "1.17.1" || d.AppVersion != "2.4.0" {
		t.Errorf("device %+v", d)
	}
	retries, stall, timeout := 0, time.Duration(0), time.Duration(0)
	back.Settings.TransferDefaults(&retries, &stall, &timeout)
	if retries != -1 || stall != 10*time.Second || timeout != 2*time.Hour {
		t.Errorf("transfer defaults %d %v %v", retries, stall, timeout)
	}
	for _, k := range Keys() {
		if k == "repo-url" {
			var ke *KeyError
			if err := UnsetKey(back, k); !errors.As(err, &ke) {
				t.Errorf("unset repo-url: %v", err)
			}
			continue
		}
		if err := UnsetKey(back, k); err != nil {
			t.Fatal(err)
		}
		if v, _ := GetKey(back, k); v != "" {
			t.Errorf("%s after unset: %q", k, v)
		}
	}
	if back.Settings != (Settings{}) {
		t.Errorf("settings after unset: %+v", back.Settings)
	}
}

// TestKeysRefuseBadValues: what the flags refuse, the keys refuse, with
// a KeyError (a usage error), and nothing is written.
func TestKeysRefuseBadValues(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := Init(dir, []byte("{}"), InitOptions{RepoURL: "https://repo.example", RequireHTTPS: true}, okRoot); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	for _, kv := range [][2]string{
		{"nosuch", "x"}, {"keep", "0"}, {"keep", "two"}, {"runtime", "onnx"}, {"runtime", "@1"}, {"health-timeout", "0s"},
		{"timeout", "-1m"}, {"stall-timeout", "soon"}, {"no-delta", "maybe"}, {"retries", "x"}, {"app-version", ""},
		{"repo-url", "ftp://x"}, {"repo-url", "http://repo.example"}, {"repo-url", "https://x?q=1"},
		{"telemetry-url", "ftp://x"}, {"telemetry-url", "https://u:p@x"}, {"telemetry-url", "https://x/?q=1"},
		{"telemetry-url", "http://telemetry.example"}, // the device requires HTTPS
		{"os-version", "12 (bookworm)"}, {"os-version", "/etc/os-release"},
	} {
		_, err := EditConfig(dir, 0, func(c *Config) error { return SetKey(c, kv[0], kv[1]) })
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != kv[0] {
			t.Errorf("%s=%q: %v", kv[0], kv[1], err)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, ConfigFile)); string(after) != string(before) {
		t.Error("client.json changed")
	}
}

// TestOldAndUnknownConfig: a client.json written before settings existed
// reads; an unknown field or a bad stored setting is refused.
func TestOldAndUnknownConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		json string
		ok   bool
	}{
		{`{"format":"mclient-state-v1","repo_url":"http://127.0.0.1:8080","device_class":"linux/arm64","min_version":"1.0.0"}`, true},
		{`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","settings":{"keep":2,"retries":0}}`, true},
		{`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","settings":{"colour":"blue"}}`, false},
		{`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","auth_token":"secret"}`, false},
		{`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","settings":{"runtime":"x"}}`, false},
		{`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","settings":{"retries":-2}}`, false},
		{`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","settings":{"timeout":"soon"}}`, false},
		{`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","settings":{"telemetry_url":"https://t.example","os_version":"12"}}`, true},
		{`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","settings":{"telemetry_url":"file:///x"}}`, false},
		{`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","settings":{"os_version":"a b"}}`, false},
		{`{"format":"mclient-state-v1","repo_url":"https://x","device_class":"x","auth_token_file":"relative"}`, false},
		{`{"format":"mclient-state-v1","repo_url":"http://example.com","device_class":"x","auth_token_file":"/t"}`, false},
		{`{"format":"mclient-state-v1","repo_url":"http://[::1]:80","device_class":"x","auth_header_file":"/t"}`, true},
		{`{"format":"mclient-state-v1","repo_url":"file:///srv","device_class":"x","auth_header_file":"/t"}`, false},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ConfigFile), []byte(c.json), 0o600)
		_, err := ReadConfig(dir)
		if (err == nil) != c.ok || err != nil && codes.CodeOf(err) != codes.StateInvalid {
			t.Errorf("%s: %v", c.json, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the error quotes a value: %v", err)
		}
	}
}

// TestRepoURLMoveKeepsState: a new repository URL leaves the trusted
// metadata and the anti-rollback floor as they were.
func TestRepoURLMoveKeepsState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := Init(dir, []byte(`{"root":1}`), InitOptions{RepoURL: "https://old.example"}, okRoot); err != nil {
		t.Fatal(err)
	}
	store := anti_rollback.NewFileStore(filepath.Join(dir, AntiRollbackDir))
	v, _ := targets.ParseVersion("1.2.0")
	if err := store.Raise("det", v); err != nil {
		t.Fatal(err)
	}
	if _, err := EditConfig(dir, 0, func(c *Config) error { return SetKey(c, "repo-url", "https://new.example/") }); err != nil {
		t.Fatal(err)
	}
	c, err := ReadConfig(dir)
	if err != nil || c.RepoURL != "https://new.example" {
		t.Fatalf("%v %+v", err, c)
	}
	if f, ok, err := Floor(store, "", "det", nil); err != nil || !ok || f.String() != "1.2.0" {
		t.Errorf("floor %v %v %v", f, ok, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, MetadataDir, "root.json")); string(b) != `{"root":1}` {
		t.Errorf("root.json %q", b)
	}
}
