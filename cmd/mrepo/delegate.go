package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

func delegateCommand() *cli.Command {
	return command([]string{"repo", "keys"}, &cli.Command{
		Name:  "delegate",
		Usage: "delegate model paths to a team's keys (a delegated targets role), or every path to hash bins",
		UsageText: `mrepo delegate --repo DIR --keys DIR --name ROLE (--model ID | --path PATTERN)... --key FILE... [--threshold N] [--terminating]
   mrepo delegate --repo DIR --keys DIR --name ROLE [--model ID | --path PATTERN]... [--key FILE]... [--replace-keys] [--remove-key KEYID]... [--threshold N] [--terminating=false]
   mrepo delegate --repo DIR --keys DIR --name ROLE --remove
   mrepo delegate --repo DIR --keys DIR --succinct-bins N --name-prefix PREFIX --key FILE... [--threshold N]`,
		Description: `Adds, updates or removes a delegated targets role in the top-level targets
metadata, signed with the targets key: the role's keys (public key files,
NAME.pub as written by mrepo keygen) then sign the models under its paths
with mrepo add-target --role ROLE, without the targets key.

Paths are TUF patterns, matched component by component (* never matches /):
--model 'vision-*' delegates models/vision-*/*/* (every version's files) and
models/vision-*/*/deltas/*/* (its delta patches); --path gives patterns
yourself. Devices look a target up in targets first, then in the delegated
roles in order; after a terminating role (--terminating) no later role is
consulted for the paths it matches.

A new role's first (empty) metadata is signed at once if its keys are in
--keys; otherwise it comes with the team's first add-target --role (or
mrepo targets --role ROLE), and until then devices cannot resolve its paths.
--replace-keys, --remove-key and --key change the role's keys: the targets
it already signs are then refused by devices until its keys re-sign them
(mrepo targets --role ROLE --after-key-change).

--succinct-bins N --name-prefix P instead delegates every target path to N
hash bins P-00, P-01, ... (TAP 15; N a power of two, 2 to 16384) sharing the
--key keys, which must be in --keys: every bin is signed at once, and
add-target then publishes each target into its bin. Named roles and hash
bins exclude each other.`,
		Flags: []cli.Flag{repoFlag, keysFlag, passFlag, jsonFlag,
			&cli.StringFlag{Name: "name", Usage: "delegated role `NAME`"},
			&cli.StringSliceFlag{Name: "model", Usage: "delegate every target of the models whose IDs match `ID` (a model ID or a pattern such as 'vision-*'); repeatable"},
			&cli.StringSliceFlag{Name: "path", Usage: "delegate the target paths matching `PATTERN` (e.g. 'models/vision-*/*/*'); repeatable; replaces the role's paths"},
			&cli.StringSliceFlag{Name: "key", Usage: "public key `FILE` of the role (NAME.pub); repeatable"},
			&cli.IntFlag{Name: "threshold", Usage: "how many of the role's keys must sign it (`N`; a new role: 1)"},
			&cli.BoolFlag{Name: "terminating", Usage: "no later delegation is consulted for the role's paths (--terminating=false undoes it)"},
			&cli.BoolFlag{Name: "replace-keys", Usage: "the --key keys replace the role's keys"},
			&cli.StringSliceFlag{Name: "remove-key", Usage: "remove the key `KEYID` (or a unique prefix of 8 or more hex digits) from the role; repeatable"},
			&cli.BoolFlag{Name: "remove", Usage: "remove the delegation"},
			&cli.IntFlag{Name: "succinct-bins", Usage: "delegate every target path to `N` hash bins (a power of two, 2 to 16384)"},
			&cli.StringFlag{Name: "name-prefix", Usage: "hash bins are named `PREFIX`-<hex>"},
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			opts := delegation.Options{
				Name: c.String("name"), ReplaceKeys: c.Bool("replace-keys"), RemoveKeys: c.StringSlice("remove-key"),
				Threshold: c.Int("threshold"), Remove: c.Bool("remove"), Bins: c.Int("succinct-bins"), NamePrefix: c.String("name-prefix"),
			}
			if c.IsSet("terminating") {
				t := c.Bool("terminating")
				opts.Terminating = &t
			}
			if c.IsSet("path") || c.IsSet("model") {
				opts.Paths = append([]string{}, c.StringSlice("path")...)
				for _, id := range c.StringSlice("model") {
					ps, err := delegation.ModelPatterns(id)
					if err != nil {
						return cliutil.Usagef("delegate: --model: %v", err)
					}
					opts.Paths = append(opts.Paths, ps...)
				}
			}
			if c.IsSet("threshold") && opts.Threshold < 1 {
				return cliutil.Usagef("delegate: --threshold %d: must be at least 1", opts.Threshold)
			}
			if c.IsSet("succinct-bins") && opts.Bins == 0 {
				return cliutil.Usagef("delegate: --succinct-bins 0: use a power of two from 2 to %d", delegation.MaxBins)
			}
			if err := opts.Validate(); err != nil {
				return cliutil.Usagef("delegate: %v", err)
			}
			for _, f := range c.StringSlice("key") {
				k, err := keys.ReadPublic(afero.NewOsFs(), f)
				if err != nil {
					return fmt.Errorf("delegate: --key %s: %w", f, err)
				}
				opts.Keys = append(opts.Keys, k)
			}
			var res *repo.DelegateResult
			kd := keyDir(c)
			attempts, err := withRepo(c, kd, func(r *repo.Repository) (err error) {
				res, err = r.Delegate(kd, opts)
				return err
			})
			if err != nil {
				return fmt.Errorf("delegate: %w", err)
			}
			warn(c, res.Warnings)
			if c.Bool("json") {
				return writeResult(c, res, attempts)
			}
			report.Delegation(c.App.Writer, res)
			return nil
		},
	})
}
