// Package delegation holds TUF targets delegation as mrepo uses it, on
// metadata alone.
//
// The rules: what a delegated role may be called (CheckRoleName), which
// path patterns reach model targets (CheckPathPattern, ModelPatterns), how
// many succinct hash bins there may be (MaxBins), the options of `mrepo
// delegate` and their validation (Options), and the edits of a role's
// keys and threshold (ApplyKeys, CheckThreshold, PruneKeys).
//
// The tree: the delegated roles of a repository state, read from its
// metadata directory and checked against the snapshot (LoadTree; a
// writer of one model or one hash bin reads only the bins it needs:
// LoadModel, LoadRole, docs/design.md section 13; of the bins read only
// for a model's versions it keeps that model's entries: Role.Trimmed),
// and the
// lookup of a target path through them exactly as go-tuf's client does it
// (Tree.Resolve), hence the targets clients actually see (Tree.Effective,
// Tree.View). The writer and status must agree with devices on where a
// target resolves; this is the one place that decides it on the
// repository side.
//
// The plans: a change of top-level targets' delegations (Tree.Apply:
// checked, applied to the metadata, with the roles to sign now), whether
// a role's current metadata is still signed by its keys (Tree.CheckSigned),
// and where add-target may sign a path (CheckRolePaths, BinsFor,
// CheckTopLevelPaths). Keys and writing stay with the writer.
//
// The repository writer (package repo: Delegate, ResignRole, add-target
// --role) applies the rules and builds on the tree under its lock;
// package status reports the tree; cmd/mrepo validates its flags with the
// rules before anything is read.
//
// It must never import a repository writer (repo), key storage (keys),
// the staged format, the auditor, the server or the client: it reads
// metadata (through internal/repofiles), writes no files and signs
// nothing.
package delegation
