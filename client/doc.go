// Package client is the device side of edgetuf: the library a device
// application embeds (cmd/mclient only wraps it) to keep ML models up to
// date from a TUF repository without ever running a model that is not
// authentic, intact and fresh, and without ever being left without a
// working model.
//
// One update cycle (Client.Update):
//
//  1. TUF refresh with go-tuf's updater from the pinned root: signatures,
//     thresholds, root chain, freshness, metadata rollback, mix-and-match.
//  2. Choose the newest version of the model whose signed custom metadata
//     is compatible with the device and that passes policy (at or above the
//     anti-rollback floor, not marked bad). Nothing is downloaded for an
//     ineligible version.
//  3. Stream each file into staging, bounded by its signed length, hashing
//     while writing, resuming with HTTP Range after an interruption. A
//     file for which the signed metadata lists a patch from a version
//     installed here is rebuilt from it instead (the patch fetched the
//     same way), and downloaded whole in the same run if that fails.
//  4. Check every file against its signed length and SHA-256, and the
//     manifest against the signed metadata.
//  5. Install the version into its own directory and switch one small
//     pointer file atomically; the previous version stays installed.
//  6. Health check; on failure switch back and mark the version bad.
//  7. Raise the anti-rollback floor and remove versions beyond the
//     retention count.
//
// Every failure is an *Error with a stable Code, and every state
// transition is appended to a JSON-lines event log without payload data.
package client
