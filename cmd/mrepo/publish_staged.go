package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/urfave/cli/v2"
)

func publishStagedCommand() *cli.Command {
	return command([]string{"repo", "role"}, &cli.Command{
		Name:      "publish-staged",
		Usage:     "publish staged metadata once its signatures meet the threshold",
		UsageText: "mrepo publish-staged --repo DIR --role ROLE [--keys DIR] [--json]",
		Description: `Publishes DIR/staged/ROLE.json if its signatures meet every threshold that
applies (for root N+1: a threshold of root N's root keys and of its own);
otherwise fails, naming the keys whose signatures are missing, and changes
nothing. Publishing a root re-signs, as new versions, the roles whose keys it
changed and those above them (their new keys must be in --keys DIR);
publishing staged targets or snapshot re-signs snapshot and timestamp with
the online keys in --keys DIR. The staged file is removed afterwards.

If a root publication was interrupted (a crash, a full disk), running the
same command again completes it.`,
		Flags: []cli.Flag{repoFlag, roleFlag, optKeysFlag, passFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			role, err := roleArg(c)
			if err != nil {
				return err
			}
			var res *repo.PublishStagedResult
			kr := optKeyDir(c)
			attempts, err := withRepo(c, kr, func(r *repo.Repository) (err error) {
				res, err = r.PublishStaged(role, kr)
				return err
			})
			if err != nil {
				return fmt.Errorf("publish-staged: %w", err)
			}
			warn(c, res.Warnings)
			if c.Bool("json") {
				return writeResult(c, res, attempts)
			}
			report.PublishedStaged(c.App.Writer, res)
			return nil
		},
	})
}
