package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/grant"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/urfave/cli/v2"
)

// maxDevicesFile bounds a devices file: 100,000 devices with short labels
// are about 10 MiB.
const maxDevicesFile = 64 << 20

func grantCommand() *cli.Command {
	const name = "grant"
	return command([]string{"repo", "keys", "devices"}, &cli.Command{
		Name:      name,
		Usage:     "publish a version's content key for every enrolled device (key envelopes)",
		UsageText: "mrepo grant --repo DIR --keys DIR --devices FILE [--prune] [--content-passphrase-file FILE] [--json] MODEL@VERSION",
		Description: `For a version published with add-target --encrypt --delivery device,
wraps its content key for every device of the devices file: one small key
envelope per device, beside the payload under
targets/models/MODEL/VERSION/keys/, named by a hash of the device's key. It
signs nothing and never rewrites the payload.

The devices file: one device per line, its recipient ("age1tag1...", from
mclient device-key show) and an optional label; blank lines and # comments
are ignored. A bad line fails the grant before anything is written.
Envelopes present are kept; --prune removes those of devices not listed.
The content key passphrase: --content-passphrase-file,
$MREPO_CONTENT_PASSPHRASE or a terminal prompt. See docs/encryption.md.`,
		Flags: []cli.Flag{
			repoFlag,
			&cli.StringFlag{Name: "keys", Usage: "key `DIR` whose content/ holds the versions' content keys (required)"},
			&cli.StringFlag{Name: "devices", Usage: "the enrolled devices, one recipient per line (`FILE`, required)"},
			&cli.BoolFlag{Name: "prune", Usage: "remove the envelopes of devices not in the devices file"},
			contentPassFlag, jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("%s: expected exactly one MODEL@VERSION argument (see mrepo %s --help)", name, name)
			}
			model, version, err := rollout.ParseModelVersion(c.Args().First())
			if err != nil {
				return cliutil.Usagef("%s: %v", name, err)
			}
			devices, err := modelcrypt.ReadDevicesFile(c.String("devices"), maxDevicesFile)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			store, err := contentKeyStore(c, false)()
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			opts := grant.Options{Devices: devices, Prune: c.Bool("prune"), Progress: cliutil.CountProgress(c, "envelopes")}
			var res *grant.Result
			attempts, err := withRepo(c, nil, func(r *repo.Repository) (err error) {
				res, err = grant.Grant(r, store, model, version, opts)
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if c.Bool("json") {
				return writeResult(c, res, attempts)
			}
			fmt.Fprintf(c.App.Writer, "%s %s: %d devices: %d envelopes written, %d kept, %d pruned (%s of envelopes, %.1f s)\n",
				res.ModelID, res.Version, res.Devices, res.Granted, res.Kept, res.Pruned, cliutil.HumanBytes(res.Bytes), res.Seconds)
			return nil
		},
	})
}
