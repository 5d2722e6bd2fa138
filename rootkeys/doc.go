// Package rootkeys computes key rotations on root metadata alone: root
// N+1 from root N and a change of one top-level role's keys or threshold
// (Next), the key IDs an operator may name by a unique prefix, and the
// order in which root key holders are asked to sign (SigningOrder).
//
// It is used by the repository writer (package repo: Repository.Rotate),
// which signs the result, stages or publishes it and re-signs the roles
// it invalidates. Everything here is a pure function of the metadata it
// is given, so a rotation can be planned and checked without keys.
//
// It must never import the repository writer (repo), key storage (keys),
// the auditor, the server or the client: it reads no files, holds no keys
// and signs nothing. internal/archtest enforces that.
package rootkeys
