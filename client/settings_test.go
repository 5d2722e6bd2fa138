package client_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/targets"
)

// TestSettingsLibrary: an integrator stores the device settings and the
// repository credentials at Init, reads them back, changes them with
// SetSettings, SetConfigKey and EditConfig, and a reopened Client uses
// them: the stored transfer retries, and the token on every request.
func TestSettingsLibrary(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.Publish(t, model, "1.0.0", bundle(1, 100), targets.Compat{MinAppVersion: "2.0"})
	const token = "test-only-token-c0ffee" // not a real secret
	files := dirHandler(r.Dir)
	var fail atomic.Bool
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		files.ServeHTTP(w, req)
	}))
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	zero := 0
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, AuthTokenFile: tokenFile,
		Settings: client.Settings{AppVersion: "2.1", Keep: 3, Retries: &zero}}, fastOpts())
	if s := d.c.Settings(); s.AppVersion != "2.1" || s.Keep != 3 || s.Retries == nil || *s.Retries != 0 {
		t.Fatalf("settings %+v", s)
	}
	if d.c.Config().AuthTokenFile != tokenFile {
		t.Fatalf("token file %q", d.c.Config().AuthTokenFile)
	}
	s := d.c.Settings()
	// With the token (the server accepts nothing else) and the stored
	// device description.
	res, err := d.update(client.UpdateRequest{Device: s.Device(), Keep: s.Keep})
	if err != nil || res.Outcome != client.OutcomeUpdated {
		t.Fatalf("%v %+v", err, res)
	}

	// The stored retries (none) apply unless Options say otherwise.
	fail.Store(true)
	srv.reset()
	d.reopen(client.Options{RetryBackoff: time.Millisecond})
	d.update(client.UpdateRequest{Device: s.Device()})
	if n := len(srv.requests("/metadata/")); n != 1 {
		t.Errorf("stored retries 0: %d metadata requests, want 1", n)
	}
	srv.reset()
	d.reopen(client.Options{RetryBackoff: time.Millisecond, Retries: 2})
	d.update(client.UpdateRequest{Device: s.Device()})
	if n := len(srv.requests("/metadata/")); n != 3 {
		t.Errorf("Options.Retries 2: %d metadata requests, want 3", n)
	}
	fail.Store(false)

	s.AppVersion, s.Keep = "2.5", 1
	if err := client.SetSettings(d.dir, s); err != nil {
		t.Fatal(err)
	}
	if err := client.SetSettings(d.dir, client.Settings{Keep: -1}); err == nil {
		t.Error("Keep -1 stored")
	}
	cfg, err := client.EditConfig(d.dir, func(c *client.Config) error { return client.SetConfigKey(c, "runtime", "tflite@2.14") })
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := client.ConfigValue(cfg, "app-version"); v != "2.5" {
		t.Errorf("app-version %q", v)
	}
	if _, err := client.EditConfig(d.dir, func(c *client.Config) error { return client.SetConfigKey(c, "keep", "0") }); err == nil {
		t.Error("keep 0 stored")
	}
	cfg, err = client.EditConfig(d.dir, func(c *client.Config) error { return client.UnsetConfigKey(c, "auth-token-file") })
	if err != nil || cfg.AuthTokenFile != "" {
		t.Fatalf("%v %+v", err, cfg)
	}
	read, err := client.ReadConfig(d.dir)
	if err != nil {
		t.Fatal(err)
	}
	if read.Settings.AppVersion != "2.5" || read.Settings.Runtime != "tflite@2.14" || read.Settings.Keep != 1 {
		t.Errorf("stored %+v", read.Settings)
	}
	d.reopen(fastOpts())
	if _, err := d.update(client.UpdateRequest{Device: read.Settings.Device()}); err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Errorf("without the token: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(d.dir, "client.json"))
	events, _ := os.ReadFile(filepath.Join(d.dir, "events.jsonl"))
	if strings.Contains(string(data)+string(events), token) {
		t.Error("the token is in the state directory")
	}
}
