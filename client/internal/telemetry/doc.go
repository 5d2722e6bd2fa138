// Package telemetry is the device side of fleet telemetry
// (docs/telemetry.md): it turns the client's update events and the app's
// signals into telemetry.Reports, samples them by the repository's signed
// sampling configuration, keeps them in a bounded, crash-safe outbox in
// the state directory, and uploads them in batches to the collector, at
// most once per update run, in the background, within a short timeout.
//
// Nothing here can fail an update: every error is logged and the reports
// wait for the next run. What a report may carry is fixed by package
// telemetry's Report; the device ID is used only to compute the cohort
// bucket of a version's signed rollout, rounded to 1%, and never leaves
// this package.
//
// It must never import the collector, the stores or anything of the
// publishing side (internal/archtest).
package telemetry
