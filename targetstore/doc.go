// Package targetstore holds the bytes of a repository's targets: the
// model files, manifests and patches under DIR/targets/, each stored once
// under its consistent-snapshot name <dir>/<sha256>.<file>.
//
// It owns:
//
//   - reading a model bundle directory safely (ReadBundle: a bounded
//     manifest, regular files only, no symlinks, names a device can hold);
//   - storing target files (Store.Put, Store.PutBundleFile): streamed,
//     hashed while written, checked against the bundle manifest's size and
//     SHA-256, and named only when complete (temporary file, fsync,
//     rename), so a crash or a refused file leaves no partial target;
//   - computing, checking and storing patches between stored versions
//     (Store.PutDeltas, with package delta): a patch is kept only when it
//     saves enough and, applied to the stored base, rebuilds the new file;
//   - reading stored targets back (Store.Open) and undoing the directories
//     of a publication that failed (Store.UndoNewDirs);
//   - encrypted versions (encrypt.go, docs/design.md section 22): payloads
//     and patches stored as age ciphertexts for the version's content key
//     recipient in the same single pass (Store.PutPayloads,
//     PutBundleFileEncrypted), patches computed between plaintexts
//     decrypted into the private TmpDir, and the key envelopes beside a
//     version (Store.PutEnvelopes), which are not targets.
//
// It writes target files only, never metadata: what the targets are
// called, which versions patches are made from and what gets signed is
// the repository writer's (package repo, its only user, through
// Repository.AddTarget). Storage behind another backend (object storage)
// belongs behind Store's methods.
//
// It must never import repo, keys, contentkeys or anything that holds keys
// or signs (internal/archtest enforces it), and no device code imports it:
// storing targets needs no signing key (a content key, when one is
// needed, is handed in), and a device binary links no repository code.
package targetstore
