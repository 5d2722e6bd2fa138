package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

func verifyCommand() *cli.Command {
	return command([]string{"repo", "root"}, &cli.Command{
		Name:      "verify",
		Usage:     "verify the published repository from a trusted root (CI release gate)",
		UsageText: "mrepo verify --repo DIR --root FILE [--valid-for DURATION] [--since SNAPSHOT_VERSION] [--json]",
		Description: `Starting only from the trusted root FILE (the one pinned in devices), checks
the repository exactly as a client would: the chain of root versions, every
role's signatures and threshold, timestamp/snapshot/targets versions, lengths
and hashes, delegations, expiry, and the length and SHA-256 of every target
file; then that each model's manifest agrees with its signed metadata; then
runs go-tuf's client over it as a second opinion. Needs no private keys.

With --valid-for, also fails if any role expires within that window (for
example --valid-for 72h before a long weekend).

With --since N, checks only what was published after snapshot version N,
which an earlier verify found good (a CI gate after each publication): the
root chain, timestamp and snapshot as always, top-level targets, the
targets roles whose version changed since snapshot N (unchanged roles are
not read), and of their targets only those new or changed since, whose
files are hashed; no role may have gone back to a lower version. Checks
that span versions of a model (patches, encryption, epochs, precedence)
and anything a role unchanged since N lists are left to a full verify.

Exit 0 only when everything holds; otherwise every problem is listed, one
per line, as CODE: where: what.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "repo", Usage: "repository `DIR` (its metadata/ and targets/) (required)"},
			&cli.StringFlag{Name: "root", Usage: "trusted root metadata `FILE` (required)"},
			&cli.StringFlag{Name: "valid-for", Usage: "fail if anything expires within `DURATION`"},
			&cli.Int64Flag{Name: "since", Usage: "check only what changed after snapshot `SNAPSHOT_VERSION` (verified before)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			opts := audit.Options{Since: c.Int64("since")}
			if c.IsSet("since") && opts.Since < 1 {
				return cliutil.Usagef("--since: a snapshot version is 1 or more")
			}
			if c.IsSet("valid-for") {
				d, err := parseDurationFlag(c, "valid-for")
				if err != nil {
					return err
				}
				opts.ValidFor = time.Duration(d)
			}
			rootBytes, err := jsonlimit.ReadFile(c.String("root"), maxStagedFile)
			if err != nil {
				return fmt.Errorf("verify: trusted root: %w", err)
			}
			var rep *audit.Report
			err = readRepo(c, false, func(fs afero.Fs, dir string) error {
				if fi, err := fs.Stat(filepath.Join(dir, repofiles.MetadataDir)); err != nil || !fi.IsDir() {
					return fmt.Errorf("%s has no %s directory", c.String("repo"), repofiles.MetadataDir)
				}
				rep = audit.Verify(fs, dir, rootBytes, opts)
				return nil
			})
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			if !c.Bool("json") {
				report.Verify(c.App.Writer, rep)
			}
			if !rep.OK() {
				// With --json, the report follows the error (cliutil.Run).
				return cliutil.WithResult(&cliutil.ExitError{Code: 1, Msg: fmt.Sprintf("verify: %d problem(s) found, first: %s", len(rep.Problems), rep.Problems[0].String())}, rep)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, rep)
			}
			return nil
		},
	})
}
