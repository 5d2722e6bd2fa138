// Package staged is what an air-gapped signer's machine runs: the staged
// threshold-signing format of mrepo, and nothing else.
//
// A staged file is a new version of a top-level role's metadata (root,
// targets, snapshot or timestamp) written without (enough) signatures, so
// that key holders can sign it one by one, each on their own machine,
// before the repository publishes it. It is plain TUF metadata, the same
// JSON as the published file, kept in a repository as DIR/staged/ROLE.json
// (Path), which is never served or published; it can be copied anywhere.
//
// This package owns:
//
//   - the format: File, Parse, ReadFile, WriteFile, and the canonical bytes
//     every signature signs (File.Payload);
//   - signing a staged file with a keys.Keyring (SignFile: `mrepo sign
//     --staged FILE`; Sign for a caller that knows the repository's root);
//   - merging the signatures of several copies by key ID (MergeFile:
//     `mrepo merge-signatures --staged FILE`; Merge);
//   - signature status: which KeyGroup thresholds are met (CheckSignatures,
//     SignatureStatus), the checks clients make (Verify), what a holder sees
//     before signing (Describe, RootChanges), and the staged files of a
//     repository for status (List).
//
// Staging a role, and publishing what is staged once every threshold is
// met, need the repository and its writer lock: package repo does that
// (Repository.Stage, SignStaged, MergeSignatures, PublishStaged, Rotate)
// and calls this package for everything about the file itself.
//
// The format is a compatibility surface (files travel between machines
// running different mrepo versions): change it only compatibly.
//
// It must never import a repository writer (repo or any package split out
// of it), the auditor, the server, the client, or network code of this
// module: internal/archtest enforces that. It reads and writes only the
// files it is given, through an afero.Fs.
package staged
