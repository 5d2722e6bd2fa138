// Package rollout holds the rules of rollout control (docs/rollout.md)
// as the repository side applies them, on a version's signed custom
// metadata (targets.Custom) alone.
//
// It owns the operations (Set, Halt, Revoke, Unrevoke, SetPolicy,
// SetExactly): each a Change that edits one version's controls, with the
// rules the operator relies on (a salt picked for a version's first
// rollout and kept afterwards, a full release that removes the control,
// a halt or revocation that needs a reason, the refusal to revoke a
// model's last non-revoked version given its other versions) and their
// errors; Apply runs a Change and checks the result as a device will
// (targets.ParseCustom). Others and NotPublished read the targets devices
// see: the model's other versions a revocation weighs, and the error for
// a version that is not there. It also owns the checks and completion of the
// controls add-target publishes a version with (Prepare, Check), and the
// parsing of what an operator types: MODEL@VERSION, a start time, a
// download size.
//
// The model itself (cohort buckets, what a rollout admits, validation of
// each field) is package targets', which devices use too; this package
// is the repository's side of it. The repository writer (package repo:
// Repository.ChangeControls, AddTarget) finds the role that signs the
// version and re-signs it through its one write path; cmd/mrepo parses
// flags with it and prints the result.
//
// It must never import the repository writer (repo), key storage (keys),
// anything that writes files, the auditor, the server or the client, and
// no device binary links it: it holds no keys, reads and writes no files
// and signs nothing. internal/archtest enforces that.
package rollout
