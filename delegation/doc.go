// Package delegation holds the rules of TUF targets delegation as mrepo
// uses them, on metadata alone: what a delegated role may be called
// (CheckRoleName), which path patterns reach model targets
// (CheckPathPattern, ModelPatterns), how many succinct hash bins there may
// be (MaxBins), the options of `mrepo delegate` and their validation
// (Options), and the edits of a role's keys and threshold (ApplyKeys,
// CheckThreshold, PruneKeys).
//
// The repository writer (package repo: Delegate, ResignRole, add-target
// --role) applies these rules under its lock; cmd/mrepo validates its
// flags with them before anything is read.
//
// It must never import a repository writer (repo), keys' backends beyond
// package keys, the auditor, the server or the client: it reads no files
// and signs nothing.
package delegation
