// Package release holds the rules of publishing a new version of a
// model (mrepo add-target), decided on signed metadata alone, before
// anything is copied or signed: whether the version may be published
// next to the ones devices see (CheckNewVersion: not published already,
// not equal in precedence or colliding in case with a published one, not
// older than the newest), which published versions patches may be
// computed from (DeltaBases), the target paths a publication writes
// (Paths), which the writer checks against the role that will sign them,
// and the new version's rollback epoch (AssignEpoch, epoch.go).
//
// The repository writer (package repo: AddTarget) applies the rules
// under its lock, then stores the files (package targetstore) and signs.
//
// It must never import the repository writer (repo), key storage (keys),
// the target store or anything else that reads or writes files, the
// auditor, the server or the client: it reads the metadata it is given
// and nothing else. internal/archtest enforces that.
package release
