// Package verifiedread is verified loading of installed models: the app
// never trusts a file because it exists.
//
//   - Model (client.ActiveModel, from Client.OpenActive): the active
//     version's files as signed metadata verified now describes them, each
//     opened as an installed.Reader that hashes while the app reads and
//     fails on the read that reaches the signed end if the length or
//     SHA-256 differ; Verify re-hashes them all.
//   - Encrypted versions (docs/client.md, section 10): Model tells the
//     installed form from the files' sizes and checks each against its
//     own signed values (the plaintext, or the ciphertext kept encrypted
//     at rest); Unseal opens a kept key envelope (client/internal/keyring)
//     and Open then returns a SealedReader: random access, every chunk
//     authenticated, the plaintext hashed over a full read.
//   - CheckActive: the up-to-date check of an update, a full re-hash when
//     the caller asks for one (mclient update --verify-active) or when the
//     last good one is older than a period (--rehash-every), recorded in
//     models/<model>/rehash.json; otherwise presence and sizes only.
//   - Protect: fs-verity on a version's files once they are verified and
//     moved into place, where the filesystem supports it (internal/fsverity).
//
// It returns the typed errors of client/internal/codes and never imports
// package client.
package verifiedread
