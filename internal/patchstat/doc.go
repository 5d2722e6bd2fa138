// Package patchstat measures patches for the reports that describe them:
// it counts the bytes written through a writer (or read through a reader,
// for progress) and states a patch's
// length as a share of its file's. Its users are the patches repo
// publishes (add-target --delta-from) and the file-level
// `mrepo delta create|apply`, which report the same numbers the same way.
//
// It imports only the standard library and must stay a leaf: it holds no
// patch logic (package delta), nothing of TUF, and no formatting of text.
package patchstat
