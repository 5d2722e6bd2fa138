// Package status is the engine of `mrepo status`: a summary of a
// repository for operators, read without keys and without writing
// anything. For each role (top-level and delegated) it reports version,
// expiry, keys, threshold and how many valid signatures it carries; for
// hash bins one summary; every published model as clients resolve it
// through the delegation tree, with its delta patches; metadata staged for
// signing; and warnings for anything expired, expiring soon, under-signed,
// pending or listed where devices will never look. It is a report, not a
// gate: `mrepo verify` (package audit) is the gate.
//
// Used by cmd/mrepo (status, and formatting its output is the command's
// job) and by tests of the writer. It reads the repository through
// internal/repofiles and the delegation tree through package delegation;
// the repository's configuration comes in as Options (the lifetime of each
// role), so it needs no access to the writer.
//
// It must never import the repository writer (repo), key storage (keys),
// the auditor, the server, the client or anything that writes files
// (internal/atomicfs). Signatures are checked with internal/pubkey. Staged
// files are listed with staged.List, which only reads.
package status
