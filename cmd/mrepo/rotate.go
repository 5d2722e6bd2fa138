package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

func rotateCommand() *cli.Command {
	return command([]string{"repo", "role"}, &cli.Command{
		Name:      "rotate",
		Usage:     "change a role's keys or threshold (a new root version)",
		UsageText: "mrepo rotate --repo DIR --role ROLE [--keys DIR] [--add-key PUB]... [--remove-key KEYID]... [--threshold N] [--stage] [--json]",
		Description: `Writes root version N+1: root N with the keys of ROLE changed (--add-key adds
the public key in PUB, a NAME.pub or NAME.key file; --remove-key removes a key
by its ID or a unique prefix of at least 8 hex digits; --threshold sets the
role's threshold) and a fresh root expiry. With no change, root N+1 is a
re-signing of root N (to extend its expiry).

Root N+1 must be signed by a threshold of root N's root keys and by a
threshold of its own. Every root key of either that is in --keys DIR signs it
(each asks for its passphrase). If both thresholds are met, root N+1 is
published and every role it invalidates is re-signed as a new version with
its new keys (targets, then snapshot, then timestamp), which must also be in
--keys DIR; the old keys found there sign too, so that devices accept the new
files before and after they see root N+1. Otherwise (or with --stage) root
N+1 is staged in DIR/staged/root.json for the other holders to sign (mrepo
sign), and mrepo publish-staged publishes it. See docs/rotation.md.`,
		Flags: []cli.Flag{repoFlag, roleFlag, optKeysFlag, passFlag, jsonFlag,
			&cli.StringSliceFlag{Name: "add-key", Usage: "add the public key in `PUB` (NAME.pub or NAME.key) to the role (repeatable)"},
			&cli.StringSliceFlag{Name: "remove-key", Usage: "remove the key `KEYID` (or a unique prefix of 8+ hex digits) from the role (repeatable)"},
			&cli.IntFlag{Name: "threshold", Usage: "the role's new threshold `N` (default: unchanged)"},
			&cli.BoolFlag{Name: "stage", Usage: "only stage root N+1 (signed by the keys at hand), even if they meet the thresholds"},
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			role, err := roleArg(c)
			if err != nil {
				return err
			}
			if c.IsSet("threshold") && c.Int("threshold") < 1 {
				return cliutil.Usagef("rotate: --threshold %d: must be at least 1", c.Int("threshold"))
			}
			opts := repo.RotateOptions{Role: role, RemoveKeys: c.StringSlice("remove-key"), Threshold: c.Int("threshold"), Stage: c.Bool("stage")}
			for _, p := range c.StringSlice("add-key") {
				k, err := keys.ReadPublic(afero.NewOsFs(), p)
				if err != nil {
					return fmt.Errorf("rotate: --add-key: %w", err)
				}
				opts.AddKeys = append(opts.AddKeys, k)
			}
			var res *repo.RotateResult
			attempts, err := withRepo(c, nil, func(r *repo.Repository) (err error) {
				res, err = r.Rotate(optKeyDir(c), opts)
				return err
			})
			if err != nil {
				return fmt.Errorf("rotate: %w", err)
			}
			warn(c, res.Warnings)
			if c.Bool("json") {
				return writeResult(c, res, attempts)
			}
			report.Rotated(c.App.Writer, role, res)
			return nil
		},
	})
}
