// Package deltafiles is `mrepo delta create|apply` on plain files: the
// patch algorithm of package delta between files on disk, with the checks
// and atomic writes around it (PATCH or OUT is either complete or left as
// it was; apply writes nothing unless the result is the file the patch
// names). It needs no repository and no keys.
//
// Used only by cmd/mrepo (its delta command: flags and output). It must
// never import repo, keys, a TUF package or the device side (client);
// archtest enforces that.
package deltafiles
