// Package audit checks a published TUF repository of models the way a
// device would, from a trusted root alone: it answers "is this repository
// safe to serve?" for a CI release gate (`mrepo verify`), a mirror, or a
// third party who holds no keys and no repository configuration.
//
//	rep := audit.Verify(afero.NewOsFs(), "repo", pinnedRoot, audit.Options{ValidFor: 72 * time.Hour})
//	for _, p := range rep.Problems { fmt.Println(p) } // "HASH_MISMATCH: models/det/1.0.0/model.onnx: ..."
//
// Verify reads only metadata/ and targets/ and reports every problem it
// finds, each with a stable Code (codes.go). Its checks, in order: the
// root chain (verify.go), timestamp and snapshot (verify.go), the targets
// role and every delegated role (delegations.go), every target file and
// the model structure: manifests, payloads, patches, version precedence
// (targets.go), and finally go-tuf's own client as a second opinion
// (crosscheck.go).
//
// Used by cmd/mrepo (verify), by repo's tests and the client's tests as a
// gate on what they publish. It must never import repo, keys or any
// package that writes a repository or holds keys (internal/archtest
// enforces it): an auditor needs no secrets, and a third party importing
// it links no signing code. The layout and signature checks it shares with
// the writer live in internal/repofiles and internal/pubkey.
package audit
