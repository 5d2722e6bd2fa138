package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/urfave/cli/v2"
)

func rollbackCommand() *cli.Command {
	return command([]string{"state", "model-id"}, &cli.Command{
		Name:      "rollback",
		Usage:     "switch back to the previous installed version",
		UsageText: "mclient rollback --state DIR --model-id ID [--json]",
		Description: `Re-verifies the previous installed version against signed metadata, makes it
active (one atomic pointer switch), and marks the version that was active as
bad so updates do not reinstall it. The anti-rollback floor is not lowered:
updates still never download a version older than the newest confirmed one.`,
		Flags: []cli.Flag{stateFlag, modelFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			cl, err := openFor(c, "rollback")
			if err != nil {
				return err
			}
			res, err := cl.Rollback(c.String("model-id"))
			if err != nil {
				return fmt.Errorf("rollback: %w", err)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			fmt.Fprintf(c.App.Writer, "Rolled back %s %s -> %s (%s marked bad): %s\n", res.ModelID, res.FromVersion, res.Version, res.FromVersion, res.Path)
			return nil
		},
	})
}
