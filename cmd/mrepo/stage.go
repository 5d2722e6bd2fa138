// Threshold signing of staged metadata by separate holders is four
// commands: stage (here), sign, merge-signatures and publish-staged (one
// file each). See docs/rotation.md.

package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/urfave/cli/v2"
)

func stageCommand() *cli.Command {
	return command([]string{"repo", "role"}, &cli.Command{
		Name:      "stage",
		Usage:     "stage the next version of a role, unsigned, for threshold signing",
		UsageText: "mrepo stage --repo DIR --role ROLE [--json]",
		Description: `Writes the next version of ROLE's metadata, with its current content and a
fresh expiry but no signatures, to DIR/staged/ROLE.json (not published, not
served). For root that is root N+1 with the same keys: the way to extend the
root's expiry. Copy the file to each key holder, who adds a signature with
mrepo sign; merge the copies with mrepo merge-signatures; publish with mrepo
publish-staged once the threshold is met. To change keys, use mrepo rotate.
Refuses if something is already staged for ROLE.`,
		Flags: []cli.Flag{repoFlag, roleFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			role, err := roleArg(c)
			if err != nil {
				return err
			}
			var res *repo.StageResult
			attempts, err := withRepo(c, nil, func(r *repo.Repository) (err error) {
				res, err = r.Stage(role)
				return err
			})
			if err != nil {
				return fmt.Errorf("stage: %w", err)
			}
			if c.Bool("json") {
				return writeResult(c, res, attempts)
			}
			report.Staged(c.App.Writer, res)
			return nil
		},
	})
}
