package eligibility

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/targets"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DeviceState is what the application knows of the device right now,
// given with each update (UpdateRequest.State; mclient update's
// --battery, --network ... flags or --device-state FILE). Every field is
// optional; a field left out is unknown, and an unknown field never
// satisfies a signed policy that needs it (fail closed). A request with
// no State at all and a version with no signed policy update exactly as
// they would without this feature.
type DeviceState struct {
	// BatteryPercent is the battery level, 0-100.
	BatteryPercent *int `json:"battery_percent,omitempty"`
	// Charging: the device is on external power.
	Charging *bool `json:"charging,omitempty"`
	// Network is the current network: wifi, ethernet, cellular or none.
	Network string `json:"network,omitempty"`
	// Metered: the network is metered (the user pays per byte).
	Metered *bool `json:"metered,omitempty"`
	// FreeBytes is the free space the application allows the models to
	// use; an update larger than this is deferred (DEFERRED_STORAGE).
	FreeBytes *int64 `json:"free_bytes,omitempty"`
	// Settings are the user's own rules: they can only make updates
	// rarer than the signed policy does.
	Settings UserSettings `json:"settings,omitzero"`
}

// UserSettings are the device user's update settings.
type UserSettings struct {
	// AutoUpdate false turns automatic model updates off
	// (DEFERRED_USER_SETTINGS). Unset means on.
	AutoUpdate *bool `json:"auto_update,omitempty"`
	// WiFiOnly allows downloads on Wi-Fi only (DEFERRED_USER_SETTINGS on
	// any other or an unknown network).
	WiFiOnly bool `json:"wifi_only,omitempty"`
	// QuietWindow "HH:MM-HH:MM" (24-hour clock, in the clock's time zone:
	// local time for mclient) is a daily window without updates
	// (DEFERRED_QUIET_WINDOW); it may wrap midnight ("22:00-06:00").
	QuietWindow string `json:"quiet_window,omitempty"`
}

// MaxDeviceStateSize bounds a device-state file.
const MaxDeviceStateSize = 4096

// ParseDeviceState reads a device-state file: strict JSON (an unknown
// field, a wrong type or trailing data is an error naming it), at most
// MaxDeviceStateSize bytes, each field valid (Validate).
func ParseDeviceState(data []byte) (*DeviceState, error) {
	if len(data) > MaxDeviceStateSize {
		return nil, fmt.Errorf("device state: larger than %d bytes", MaxDeviceStateSize)
	}
	if err := checkStateKeys(data); err != nil {
		return nil, fmt.Errorf("device state: %v", err)
	}
	var st DeviceState
	if err := jsonlimit.UnmarshalStrict(data, &st, MaxDeviceStateSize); err != nil {
		return nil, fmt.Errorf("device state: %v", err)
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	return &st, nil
}

var (
	stateKeys    = []string{"battery_percent", "charging", "network", "metered", "free_bytes", "settings"}
	settingsKeys = []string{"auto_update", "wifi_only", "quiet_window"}
)

// checkStateKeys refuses what Go's decoder would accept silently: a key
// repeated (Go keeps the last, other parsers the first) or matching a
// field only when case is ignored. The decoder checks the rest.
func checkStateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func(allowed []string, where string) error
	walk = func(allowed []string, where string) error {
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			if seen[key] {
				return fmt.Errorf("%s%q appears twice", where, key)
			}
			seen[key] = true
			if !slices.Contains(allowed, key) {
				return fmt.Errorf("unknown field %s%q", where, key)
			}
			if key == "settings" {
				if t, err := dec.Token(); err != nil {
					return err
				} else if t != json.Delim('{') {
					return fmt.Errorf("settings: not an object")
				}
				if err := walk(settingsKeys, "settings."); err != nil {
					return err
				}
				if _, err := dec.Token(); err != nil {
					return err
				}
				continue
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
		}
		return nil
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("not a JSON object")
	}
	return walk(stateKeys, "")
}

// Validate checks each field of s; the error names the field.
func (s *DeviceState) Validate() error {
	if s.BatteryPercent != nil && (*s.BatteryPercent < 0 || *s.BatteryPercent > 100) {
		return fmt.Errorf("device state: battery_percent %d is not within 0-100", *s.BatteryPercent)
	}
	switch s.Network {
	case "", targets.NetworkWiFi, targets.NetworkEthernet, targets.NetworkCellular, targets.NetworkNone:
	default:
		return fmt.Errorf("device state: network %q is not one of wifi, ethernet, cellular, none", s.Network)
	}
	if s.FreeBytes != nil && *s.FreeBytes < 0 {
		return fmt.Errorf("device state: free_bytes must not be negative")
	}
	if w := s.Settings.QuietWindow; w != "" {
		if _, _, err := ParseQuietWindow(w); err != nil {
			return fmt.Errorf("device state: settings.quiet_window: %v", err)
		}
	}
	return nil
}

// ParseQuietWindow parses "HH:MM-HH:MM" into minutes after midnight.
// Start and end must differ.
func ParseQuietWindow(w string) (start, end int, err error) {
	a, b, ok := strings.Cut(w, "-")
	if ok {
		if start, ok = clockMinutes(a); ok {
			end, ok = clockMinutes(b)
		}
	}
	if !ok || start == end {
		return 0, 0, fmt.Errorf("%q: want HH:MM-HH:MM (24-hour clock, start and end different), such as 22:00-06:00", w)
	}
	return start, end, nil
}

func clockMinutes(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || s[0] == '+' || s[3] == '+' {
		return 0, false
	}
	return h*60 + m, true
}

// inQuietWindow reports whether now (in its own time zone) is within w.
func inQuietWindow(w string, now time.Time) bool {
	start, end, err := ParseQuietWindow(w)
	if err != nil {
		return true // unreachable (validated); fail closed
	}
	t := now.Hour()*60 + now.Minute()
	if start < end {
		return t >= start && t < end
	}
	return t >= start || t < end
}

// Eligible decides, before any payload byte is downloaded, whether the
// device may fetch need bytes of a version with the signed policy pol
// now; the error is a deferral. The user's settings come first: they can
// only be stricter than the policy.
func Eligible(pol *targets.Policy, st *DeviceState, need int64, now time.Time) *codes.Error {
	if st == nil && pol == nil {
		return nil // as before: nothing asked, nothing required
	}
	if st == nil {
		st = &DeviceState{}
	}
	if a := st.Settings.AutoUpdate; a != nil && !*a {
		return codes.Errorf(codes.DeferredUserSettings, nil, "automatic updates are off in the user settings")
	}
	if w := st.Settings.QuietWindow; w != "" && inQuietWindow(w, now) {
		return codes.Errorf(codes.DeferredQuietWindow, nil, "%s is within the quiet window %s", now.Format("15:04"), w)
	}
	if st.Network == targets.NetworkNone {
		return codes.Errorf(codes.DeferredNetwork, nil, "the device has no network")
	}
	if st.Settings.WiFiOnly && st.Network != targets.NetworkWiFi {
		return codes.Errorf(codes.DeferredUserSettings, nil, "the user settings allow updates on Wi-Fi only, and the network is %s", orUnknown(st.Network))
	}
	if pol != nil {
		if len(pol.Networks) > 0 && !slices.Contains(pol.Networks, st.Network) {
			return codes.Errorf(codes.DeferredNetwork, nil, "the signed policy allows %s only, and the network is %s", strings.Join(pol.Networks, ", "), orUnknown(st.Network))
		}
		if pol.UnmeteredAboveBytes > 0 && need > pol.UnmeteredAboveBytes && (st.Metered == nil || *st.Metered) {
			what := "metered"
			if st.Metered == nil {
				what = "not known to be unmetered"
			}
			return codes.Errorf(codes.DeferredMetered, nil, "the signed policy needs an unmetered network above %d bytes; this update is %d bytes and the network is %s", pol.UnmeteredAboveBytes, need, what)
		}
		if min := pol.MinBatteryPercent; min > 0 && (st.Charging == nil || !*st.Charging) {
			switch {
			case st.BatteryPercent == nil:
				return codes.Errorf(codes.DeferredBattery, nil, "the signed policy needs a battery of at least %d%% or charging, and the battery level is unknown", min)
			case *st.BatteryPercent < min:
				return codes.Errorf(codes.DeferredBattery, nil, "the signed policy needs a battery of at least %d%% or charging; the battery is at %d%%", min, *st.BatteryPercent)
			}
		}
	}
	if st.FreeBytes != nil && *st.FreeBytes < need {
		return codes.Errorf(codes.DeferredStorage, nil, "this update is %d bytes and the device allows %d", need, *st.FreeBytes)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Device describes what a device can run. Empty fields are unknown: a
// model that constrains an unknown field is not compatible (fail closed).
type Device struct {
	// AppVersion of the application that will run the model.
	AppVersion string
	// Runtime and RuntimeVersion name the inference runtime ("tflite", "2.14.1").
	Runtime        string
	RuntimeVersion string
	// Platform is OS/ARCH (default: this process's GOOS/GOARCH).
	Platform string
	// Variant, if set, accepts only models of that variant.
	Variant string
	// The schema and preprocessing digests the application was built for;
	// if set, a model that declares a different one is not compatible.
	InputSchemaHash      string
	OutputSchemaHash     string
	PreprocessConfigHash string
}

func (d Device) platform() string {
	if d.Platform != "" {
		return d.Platform
	}
	return runtime.GOOS + "/" + runtime.GOARCH
}

// Compatible reports why a model version's signed constraints rule this
// device out, or nil if they do not.
func (d Device) Compatible(c *targets.Compat) error {
	if d.Variant != "" && c.Variant != d.Variant {
		return fmt.Errorf("variant %q, device wants %q", c.Variant, d.Variant)
	}
	if c.MinAppVersion != "" {
		need, err := targets.ParseMinVersion(c.MinAppVersion)
		if err != nil {
			return fmt.Errorf("min_app_version: %v", err)
		}
		if d.AppVersion == "" {
			return fmt.Errorf("needs app >= %s and the device did not give its app version", c.MinAppVersion)
		}
		have, err := targets.ParseMinVersion(d.AppVersion)
		if err != nil {
			return fmt.Errorf("device app version: %v", err)
		}
		if have.Compare(need) < 0 {
			return fmt.Errorf("needs app >= %s, device has %s", c.MinAppVersion, d.AppVersion)
		}
	}
	if len(c.Platforms) > 0 {
		p := d.platform()
		os, _, _ := strings.Cut(p, "/")
		ok := false
		for _, q := range c.Platforms {
			if q == p || q == os+"/*" {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("built for %s, device is %s", strings.Join(c.Platforms, ", "), p)
		}
	}
	if c.Runtime != nil {
		if d.Runtime == "" {
			return fmt.Errorf("needs runtime %s and the device did not give its runtime", c.Runtime.Name)
		}
		if !strings.EqualFold(d.Runtime, c.Runtime.Name) {
			return fmt.Errorf("needs runtime %s, device has %s", c.Runtime.Name, d.Runtime)
		}
		if c.Runtime.MinVersion != "" {
			need, err := targets.ParseMinVersion(c.Runtime.MinVersion)
			if err != nil {
				return fmt.Errorf("runtime.min_version: %v", err)
			}
			have, err := targets.ParseMinVersion(d.RuntimeVersion)
			if err != nil {
				return fmt.Errorf("needs %s >= %s and the device's runtime version %q is not a version", c.Runtime.Name, c.Runtime.MinVersion, d.RuntimeVersion)
			}
			if have.Compare(need) < 0 {
				return fmt.Errorf("needs %s >= %s, device has %s", c.Runtime.Name, c.Runtime.MinVersion, d.RuntimeVersion)
			}
		}
	}
	for _, h := range []struct{ name, model, device string }{
		{"input_schema_hash", c.InputSchemaHash, d.InputSchemaHash},
		{"output_schema_hash", c.OutputSchemaHash, d.OutputSchemaHash},
		{"preprocess_config_hash", c.PreprocessConfigHash, d.PreprocessConfigHash},
	} {
		dev := strings.ToLower(strings.TrimPrefix(h.device, "sha256:"))
		if dev != "" && h.model != "" && dev != h.model {
			return fmt.Errorf("%s %s, device expects %s", h.name, short(h.model), short(dev))
		}
	}
	return nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
