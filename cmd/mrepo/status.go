package main

import (
	"fmt"
	"time"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/status"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

func statusCommand() *cli.Command {
	return command([]string{"repo"}, &cli.Command{
		Name:      "status",
		Usage:     "show roles, expiries, signatures and published models",
		UsageText: "mrepo status --repo DIR [--json] [--warn-within DURATION]",
		Description: `For each role: version, expiry, key IDs, threshold and whether its valid
signatures meet the threshold. Then every published model with its versions
(and, one line each, the versions with a staged rollout, a halt, a
revocation or a download policy: docs/rollout.md; the others are full
releases), and warnings for roles that are expired, expire within the warning window, or
lack signatures. The default window is a quarter of each role's configured
lifetime. Exit status is 0 even with warnings; use verify as a gate.`,
		Flags: []cli.Flag{repoFlag, jsonFlag,
			&cli.StringFlag{Name: "warn-within", Usage: "warn about roles expiring within `DURATION` (e.g. 72h, 30d)"}},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			var opts status.Options
			if c.IsSet("warn-within") {
				d, err := parseDurationFlag(c, "warn-within")
				if err != nil {
					return err
				}
				opts.WarnWithin = time.Duration(d)
			}
			var st *status.Report
			err := readRepo(c, false, func(fs afero.Fs, dir string) error {
				r, err := repo.Open(fs, dir)
				if err != nil {
					return err
				}
				opts.Now, opts.Lifetime = r.Now(), r.Config().Expiry.For
				st, err = status.Read(fs, dir, opts)
				return err
			})
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, st)
			}
			report.Status(c.App.Writer, st)
			return nil
		},
	})
}
