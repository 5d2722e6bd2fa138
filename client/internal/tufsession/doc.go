// Package tufsession is the device's TUF client: one refresh with go-tuf's
// updater from the trusted root (signatures, thresholds, the root chain,
// freshness, rollback and mix-and-match), then target lookups through the
// delegation tree, walked here so that every delegated role is verified
// against the delegator it is reached through (go-tuf#759). It maps
// go-tuf's errors to the codes of client/internal/codes by type, naming
// the role being processed; it keeps the copy of the metadata trusted after
// the last complete refresh that offline sessions read.
//
// Package client opens one session per update, status or verification
// (and TUFClient for `mclient tuf`); downloads go through
// client/internal/transport. It never imports package client, nor anything
// repository-side (repo, keys, audit, server, ...).
package tufsession
