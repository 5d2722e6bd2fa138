package client_test

import (
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/targets"
)

func ptr[T any](v T) *T { return &v }

// TestEligibilityDefers: with a signed policy on 1.1.0 (Wi-Fi or
// Ethernet, unmetered above 1000 bytes, battery at least 50% unless
// charging), each unmet condition alone defers the update with its own
// code: outcome deferred, zero bytes and zero payload requests (on the
// server's log), the active version unchanged, an event deferred, and no
// backoff. User settings stricter than the policy win. A request with no
// device state at all fails closed against a policy.
func TestEligibilityDefers(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0")
	srv := serveRepo(t, r)
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL, DeviceID: "dev-1"}, rolloutOpts())
	d.mustUpdate("1.0.0")
	publish(t, r, rolloutSize, "1.1.0")
	r.SetControls(t, model, "1.1.0", nil, nil, &targets.Policy{UnmeteredAboveBytes: 1000, MinBatteryPercent: 50, Networks: []string{"wifi", "ethernet"}})

	good := func() *client.DeviceState {
		return &client.DeviceState{BatteryPercent: ptr(80), Network: "wifi", Metered: ptr(false), FreeBytes: ptr(int64(1 << 30))}
	}
	// rolloutNow is 12:00.
	for _, c := range []struct {
		name string
		edit func(*client.DeviceState) *client.DeviceState
		want client.Code
		says string
	}{
		{"battery low", func(s *client.DeviceState) *client.DeviceState { s.BatteryPercent = ptr(20); return s }, client.DeferredBattery, "battery is at 20%"},
		{"battery unknown", func(s *client.DeviceState) *client.DeviceState { s.BatteryPercent = nil; return s }, client.DeferredBattery, "unknown"},
		{"cellular", func(s *client.DeviceState) *client.DeviceState { s.Network = "cellular"; return s }, client.DeferredNetwork, "network is cellular"},
		{"no network", func(s *client.DeviceState) *client.DeviceState { s.Network = "none"; return s }, client.DeferredNetwork, "no network"},
		{"network unknown", func(s *client.DeviceState) *client.DeviceState { s.Network = ""; return s }, client.DeferredNetwork, "network is unknown"},
		{"metered", func(s *client.DeviceState) *client.DeviceState { s.Metered = ptr(true); return s }, client.DeferredMetered, "metered"},
		{"metered unknown", func(s *client.DeviceState) *client.DeviceState { s.Metered = nil; return s }, client.DeferredMetered, "not known to be unmetered"},
		{"storage", func(s *client.DeviceState) *client.DeviceState { s.FreeBytes = ptr(int64(100)); return s }, client.DeferredStorage, "allows 100"},
		{"auto update off", func(s *client.DeviceState) *client.DeviceState { s.Settings.AutoUpdate = ptr(false); return s }, client.DeferredUserSettings, "automatic updates are off"},
		// Ethernet is allowed by the policy; the user's Wi-Fi only is stricter.
		{"wifi only on ethernet", func(s *client.DeviceState) *client.DeviceState {
			s.Network = "ethernet"
			s.Settings.WiFiOnly = true
			return s
		}, client.DeferredUserSettings, "Wi-Fi only"},
		{"quiet window", func(s *client.DeviceState) *client.DeviceState { s.Settings.QuietWindow = "11:30-12:30"; return s }, client.DeferredQuietWindow, "12:00 is within the quiet window 11:30-12:30"},
		{"quiet window over midnight", func(s *client.DeviceState) *client.DeviceState { s.Settings.QuietWindow = "06:00-12:01"; return s }, client.DeferredQuietWindow, "quiet window"},
		{"no state at all", func(*client.DeviceState) *client.DeviceState { return nil }, client.DeferredNetwork, "unknown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv.reset()
			before := len(d.events())
			res, err := d.update(client.UpdateRequest{State: c.edit(good())})
			if client.CodeOf(err) != c.want || res.Outcome != client.OutcomeDeferred || res.Code != c.want || !strings.Contains(res.Message, c.says) {
				t.Fatalf("got %v, %+v; want %s saying %q", err, res, c.want, c.says)
			}
			if res.BytesDownloaded != 0 || len(srv.requests("/targets/")) != 0 {
				t.Fatalf("%d bytes, target requests %v", res.BytesDownloaded, srv.requests("/targets/"))
			}
			if res.Version != "1.0.0" {
				t.Fatalf("active %s", res.Version)
			}
			ev := d.events()[before:]
			if got := eventNames(ev); strings.Join(got, " ") != "checked deferred" || ev[1].Code != c.want || ev[1].ToVersion != "1.1.0" {
				t.Fatalf("events %+v", ev)
			}
			if st := d.status(); st.Schedule != nil {
				t.Fatalf("a deferral scheduled a backoff: %+v", st.Schedule)
			}
		})
	}
	// A quiet window that does not contain now, and charging instead of
	// battery: eligible.
	st := good()
	st.BatteryPercent, st.Charging = ptr(5), ptr(true)
	st.Settings.QuietWindow = "22:00-06:00"
	res, err := d.update(client.UpdateRequest{State: st})
	if err != nil || res.Outcome != client.OutcomeUpdated || res.Version != "1.1.0" {
		t.Fatalf("%v %+v", err, res)
	}
}

// TestEligibilityWithoutPolicy: with no signed policy, device state
// still counts where it can only be stricter (no network, user settings,
// free space); given no state at all, an update runs as before.
func TestEligibilityWithoutPolicy(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0")
	srv := serveRepo(t, r)
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: srv.URL}, rolloutOpts())
	if _, err := d.update(client.UpdateRequest{State: &client.DeviceState{Network: "none"}}); client.CodeOf(err) != client.DeferredNetwork {
		t.Fatalf("no network: %v", err)
	}
	if _, err := d.update(client.UpdateRequest{State: &client.DeviceState{Network: "cellular", Settings: client.UserSettings{WiFiOnly: true}}}); client.CodeOf(err) != client.DeferredUserSettings {
		t.Fatalf("wifi only: %v", err)
	}
	if len(srv.requests("/targets/")) != 0 {
		t.Fatal("target requests")
	}
	// Cellular without a policy or user rule against it: fine.
	if res, err := d.update(client.UpdateRequest{State: &client.DeviceState{Network: "cellular"}}); err != nil || res.Version != "1.0.0" {
		t.Fatalf("%v %+v", err, res)
	}
}

// TestParseDeviceState: the device-state file is strict and bounded; an
// error names the field.
func TestParseDeviceState(t *testing.T) {
	t.Parallel()
	st, err := client.ParseDeviceState([]byte(`{"battery_percent":80,"charging":false,"network":"wifi","metered":false,"free_bytes":123,
		"settings":{"auto_update":true,"wifi_only":false,"quiet_window":"22:00-06:00"}}`))
	if err != nil || *st.BatteryPercent != 80 || *st.Charging || st.Network != "wifi" || *st.FreeBytes != 123 || !*st.Settings.AutoUpdate || st.Settings.QuietWindow != "22:00-06:00" {
		t.Fatalf("%v %+v", err, st)
	}
	if st, err := client.ParseDeviceState([]byte(`{}`)); err != nil || st.BatteryPercent != nil || st.Network != "" {
		t.Fatalf("empty: %v %+v", err, st)
	}
	for _, c := range []struct{ in, says string }{
		{`{"battery_percent":101}`, "battery_percent"},
		{`{"battery_percent":"80"}`, "battery_percent"},
		{`{"network":"5g"}`, `network "5g"`},
		{`{"free_bytes":-1}`, "free_bytes"},
		{`{"settings":{"quiet_window":"25:00-06:00"}}`, "settings.quiet_window"},
		{`{"settings":{"quiet_window":"06:00-06:00"}}`, "settings.quiet_window"},
		{`{"settings":{"quiet":"x"}}`, `"quiet"`},
		{`{"batery_percent":1}`, `"batery_percent"`},
		{`{"network":"wifi"} {}`, "device state"},
		{`{"network":"wifi","network":"none"}`, "network"},
		{`[`, "device state"},
		{`{"network":"` + strings.Repeat("a", client.MaxDeviceStateSize) + `"}`, "larger than"},
	} {
		if _, err := client.ParseDeviceState([]byte(c.in)); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%.60s: %v, want an error naming %s", c.in, err, c.says)
		}
	}
}

// TestQuietWindowParse covers the window syntax.
func TestQuietWindowParse(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{"22:00-06:00": true, "00:00-23:59": true, "9:00-10:00": false, "10:00-10:00": false,
		"24:00-01:00": false, "10:60-11:00": false, "10:00": false, "+1:00-02:00": false, "10:00-11:00-12:00": false} {
		if _, _, err := client.ParseQuietWindow(in); (err == nil) != ok {
			t.Errorf("%s: %v", in, err)
		}
	}
}
