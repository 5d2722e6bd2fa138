// Package report is the text output of mrepo: how the reports and results
// of the libraries (status.Report, audit.Report, repo's and staged's
// results of init, add-target, delegate, stage, rotate, merge-signatures,
// publish-staged, targets --role and the version controls, deltafiles'
// results) are printed for a person. --json output is not here: it is the
// libraries' types encoded as they are.
//
// Used only by cmd/mrepo, which keeps flags, exit codes and the choice of
// what to print. It only formats values it is given, to an io.Writer: it
// reads no files, opens no keys and changes no repository (it uses repo's
// result types, never its writer). It must never import the command-line
// framework (urfave/cli) or os, and no device binary (client, cmd/mclient)
// links it; archtest enforces that.
package report
