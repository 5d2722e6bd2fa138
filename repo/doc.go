// Package repo maintains a TUF repository of machine-learning models: the
// offline key ceremony that creates it, publishing model bundles as
// targets, delegating, re-signing snapshot and timestamp, rotating keys
// and staging metadata for threshold signing. Verifying a published
// repository is package audit's job, reporting its status package
// status's, serving it package server's.
//
// A repository is a directory:
//
//	mrepo.json               configuration (expiry durations); not published
//	metadata/N.root.json     every root version, N = 1, 2, ...
//	metadata/N.targets.json  targets metadata (consistent snapshots)
//	metadata/N.snapshot.json snapshot metadata
//	metadata/timestamp.json  the only file ever overwritten
//	targets/models/<model_id>/<version>/<sha256>.<file>
//	targets/models/<model_id>/<version>/keys/  key envelopes (encrypted versions)
//
// Every write is crash-safe (temporary file, fsync, rename, directory
// fsync) and ordered target files, targets metadata, snapshot, timestamp:
// until timestamp.json is replaced, clients see the previous repository,
// complete and valid. All file access goes through an afero.Fs, so the
// same code runs on the OS filesystem and on afero.NewMemMapFs in tests.
package repo
