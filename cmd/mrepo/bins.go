package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/repoconfig"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/urfave/cli/v2"
)

func binsCommand() *cli.Command {
	return groupCommand("bins", "move a repository's targets into succinct hash bins",
		"mrepo bins migrate --repo DIR --keys DIR [--count N] [--threshold N] [--json]",
		`A repository whose top-level targets lists every target makes each device
download all of it to update one model. Hash bins (TAP 15) spread the targets
over N bins by the SHA-256 of their paths, and a version index per model
(models/<model_id>/versions.json) lets a device list a model's versions from
one bin: a refresh then costs the same whatever the size of the catalog.

New repositories migrate by themselves: mrepo.json's "bins" threshold
(10000 targets, written by mrepo init) makes add-target migrate first once a
publication would pass it. See docs/design.md section 13.`,
		binsMigrateCommand())
}

func binsMigrateCommand() *cli.Command {
	return command([]string{"repo", "keys"}, &cli.Command{
		Name:      "migrate",
		Usage:     "move every top-level target into new hash bins, in one publication",
		UsageText: "mrepo bins migrate --repo DIR --keys DIR [--count N] [--threshold N] [--json]",
		Description: `Delegates every target path from top-level targets to N hash bins named
bins-<hex>, signed by the targets keys (so add-target keeps publishing with the
keys it has), moves every top-level target into its bin, signs a version index
for every model, and publishes it all as one new snapshot: devices follow on
their next refresh, without re-imaging. The snapshot records each bin by its
version only from 256 bins on.

--count N (a power of two from 2 to 16384) sets the number of bins; by
default mrepo.json's bins count, or the smallest power of two giving at most
64 targets per bin, at least 256. --threshold N records in mrepo.json the
number of top-level targets past which add-target migrates by itself (for a
repository made before bins existed).

A migration that fails part-way changes nothing devices see: run it again.
A repository whose targets already delegates (named roles or bins) is
refused.`,
		Flags: []cli.Flag{repoFlag, keysFlag, passFlag, jsonFlag,
			&cli.IntFlag{Name: "count", Usage: "`N` hash bins (a power of two, 2 to 16384; default: chosen by the number of targets)"},
			&cli.IntFlag{Name: "threshold", Usage: "record `N` in mrepo.json as the bins threshold of add-target"},
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			opts := repo.MigrateOptions{Count: c.Int("count"), Threshold: c.Int("threshold")}
			if c.IsSet("count") {
				if err := repoconfig.CheckBinsCount(opts.Count, false); err != nil {
					return cliutil.Usagef("bins migrate: --count: %v", err)
				}
			}
			if c.IsSet("threshold") && opts.Threshold < 1 {
				return cliutil.Usagef("bins migrate: --threshold %d: must be at least 1", opts.Threshold)
			}
			kd := keyDir(c)
			var res *repo.MigrateResult
			attempts, err := withRepo(c, kd, func(r *repo.Repository) (err error) {
				res, err = r.MigrateBins(kd, opts)
				return err
			})
			if err != nil {
				return fmt.Errorf("bins migrate: %w", err)
			}
			if c.Bool("json") {
				return writeResult(c, res, attempts)
			}
			fmt.Fprintf(c.App.Writer, "Moved %d targets (%d models) into %d hash bins %s-*\n", res.Moved, res.Models, res.Bins, res.NamePrefix)
			fmt.Fprintf(c.App.Writer, "targets v%d, snapshot v%d, timestamp v%d\n", res.Versions.Targets, res.Versions.Snapshot, res.Versions.Timestamp)
			return nil
		},
	})
}
