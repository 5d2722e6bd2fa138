// Package installed works on the files of model versions on the device:
// checking an installed version against signed metadata (VerifyDir,
// VerifyFile: every file re-hashed, nothing else present; CheckSizes,
// CheckSizesSigned: presence and lengths only), running the application's
// health command, resolving a version's targets and a patch's from signed
// metadata (SignedFiles, CheckPatch), rebuilding a payload file from a
// signed patch and an installed base (ApplyPatch, with package delta), and
// copying into staging an installed file (of any version of any model)
// that has a wanted file's signed SHA-256 and length (ScanLocal,
// Local.Find, Local.Copy: a reflink or a streamed copy, checked like a
// download).
//
// Package client uses it during updates, rollbacks, verification and
// `mclient tuf`; it returns the typed errors of client/internal/codes. It
// never imports package client, nor anything repository-side (repo, keys,
// audit, server, ...); package delta is the only code it shares with the
// repository tools.
package installed
