// Package eligibility decides, from signed metadata and what the
// application says of the device, whether a model version may be fetched
// now: its compatibility constraints against the Device (platform, app
// and runtime versions, variant, schema digests), and its signed update
// policy against the DeviceState and the user's settings (battery,
// network, metering, free space, quiet window), whose refusals are the
// deferrals of client/internal/codes. It downloads and writes nothing.
//
// Package client re-exports DeviceState, UserSettings, Device,
// ParseDeviceState and ParseQuietWindow under its own names. It never
// imports package client, nor anything repository-side (repo, keys,
// audit, server, ...).
package eligibility
