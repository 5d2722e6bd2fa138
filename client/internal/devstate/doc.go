// Package devstate is the device's state directory on disk: its layout
// (client.json, the pinned root, metadata/, staging/, models/, the active
// pointer, state.json, backoff.json, the lock), Init and the configuration
// it writes (the network options and CA bundle included), the writer lock,
// bounded strict JSON reads and atomic writes, and the rules for what a
// symbolic link or special file found in it does (nothing below the state
// directory is followed: every access goes through internal/safefs).
//
// Package client (and its TUF session, for the durability of metadata)
// uses it; it says where things are and reads and writes them, while what
// an update decides stays in client. It returns the typed errors of
// client/internal/codes. It never imports package client, nor anything
// repository-side (repo, keys, audit, server, ...).
package devstate
