// Package fsverity enables fs-verity on a file (Linux 5.4 and later, on
// ext4 with the verity feature, f2fs and btrfs): the kernel builds a
// Merkle tree of the file's contents, makes the file read-only for good,
// and checks every page read from disk against the tree, so that an edit
// of the underlying storage, made offline or under the filesystem, reads
// as an I/O error instead of as the edited bytes. Elsewhere (tmpfs,
// overlayfs, xfs, NFS, ext4 without the feature, other systems) Enable
// reports ErrNotSupported.
//
// fs-verity does not say what the file should contain: whoever may
// replace the file (unlink it and write another) is not stopped. Package
// client still checks installed files against their signed SHA-256
// (client.OpenActive, mclient verify).
package fsverity

import "errors"

// ErrNotSupported is wrapped by Enable's error when the filesystem or the
// kernel cannot enable fs-verity on the file.
var ErrNotSupported = errors.New("fs-verity is not supported here")
