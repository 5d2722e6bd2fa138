package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

func mergeSignaturesCommand() *cli.Command {
	return command([]string{"role"}, &cli.Command{
		Name:      "merge-signatures",
		Usage:     "merge the signatures of signed copies of staged metadata",
		UsageText: "mrepo merge-signatures --role ROLE (--repo DIR | --staged FILE) [--json] COPY...",
		Description: `Adds to the staged version of ROLE (DIR/staged/ROLE.json, or --staged FILE)
the signatures found in each COPY, a copy of the same staged file that one or
more holders signed. Signatures are merged by key ID. Refuses a COPY that
stages other content (a different version, expiry or keys) and a signature
that does not verify; with --repo, drops (with a warning) signatures by keys
that do not count for ROLE. Prints the thresholds still unmet.`,
		Flags: []cli.Flag{roleFlag, repoFlag, stagedFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			role, err := roleArg(c)
			if err != nil {
				return err
			}
			if err := stagedTarget(c); err != nil {
				return err
			}
			if c.Args().Len() == 0 {
				return cliutil.Usagef("merge-signatures: expected one or more COPY files (see mrepo merge-signatures --help)")
			}
			others := map[string][]byte{}
			for _, p := range c.Args().Slice() {
				data, err := jsonlimit.ReadFile(p, maxStagedFile)
				if err != nil {
					return fmt.Errorf("merge-signatures: %w", err)
				}
				others[p] = data
			}
			var res *staged.MergeResult
			if c.String("repo") != "" {
				_, err = withRepo(c, nil, func(r *repo.Repository) (err error) {
					res, err = r.MergeSignatures(role, others)
					return err
				})
				if err != nil {
					return fmt.Errorf("merge-signatures: %w", err)
				}
			} else {
				res, err = staged.MergeFile(afero.NewOsFs(), c.String("staged"), role, others)
				if err != nil {
					return fmt.Errorf("merge-signatures: %w", err)
				}
			}
			warn(c, res.Warnings)
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			report.Merged(c.App.Writer, res)
			return nil
		},
	})
}
