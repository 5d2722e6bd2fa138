package client

import (
	"github.com/edgetuf/edgetuf/client/internal/eligibility"

	"github.com/edgetuf/edgetuf/targets"
)

// DeviceState is what the application knows of the device right now,
// given with each update (UpdateRequest.State; mclient update's
// --battery, --network ... flags or --device-state FILE). Every field is
// optional; a field left out is unknown, and an unknown field never
// satisfies a signed policy that needs it (fail closed).
type DeviceState = eligibility.DeviceState

// UserSettings are the device user's update settings.
type UserSettings = eligibility.UserSettings

// MaxDeviceStateSize bounds a device-state file.
const MaxDeviceStateSize = eligibility.MaxDeviceStateSize

// ParseDeviceState reads a device-state file: strict JSON (an unknown
// field, a wrong type or trailing data is an error naming it), at most
// MaxDeviceStateSize bytes, each field valid (DeviceState.Validate).
func ParseDeviceState(data []byte) (*DeviceState, error) { return eligibility.ParseDeviceState(data) }

// ParseQuietWindow parses "HH:MM-HH:MM" into minutes after midnight.
// Start and end must differ.
func ParseQuietWindow(w string) (start, end int, err error) { return eligibility.ParseQuietWindow(w) }

// Device describes what a device can run. Empty fields are unknown: a
// model that constrains an unknown field is not compatible (fail closed).
type Device = eligibility.Device

// admits reports whether the signed rollout of a version admits this
// device: its cohort bucket (from the device ID given at init, which
// never leaves the device), its device class and the clock. A device
// without an ID is admitted only by a full release (every bucket), so
// that devices without IDs do not all fall in one bucket.
func (c *Client) admits(r *targets.Rollout) (bool, string) {
	if r == nil {
		return true, ""
	}
	if c.cfg.DeviceID == "" && r.BasisPoints < targets.Buckets {
		return false, "the version is in a staged rollout and this device has no device ID (mclient init --device-id)"
	}
	return r.Admits(targets.Bucket(r.Salt, c.cfg.DeviceID), c.cfg.DeviceClass, c.now())
}
