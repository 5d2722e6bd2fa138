package main

import (
	"bytes"
	"fmt"

	"github.com/edgetuf/edgetuf/grant"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/schollz/progressbar/v3"
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
		Description: `For a version published with add-target --encrypt --delivery device, wraps
its content key for every device listed in the devices file: one small key
envelope per device (an age file for the device's P-256 key), published
beside the payload as targets/models/MODEL/VERSION/keys/<hash>.age, named by
a hash of the device's key, so a listing names no device. A device fetches
its own envelope and opens it with its device key. No metadata is signed
and no payload is rewritten: the device checks the key inside against the
version's signed recipient.

The devices file: UTF-8 text, one device per line, its recipient
("age1tag1...", printed by mclient device-key show) optionally followed by
whitespace and a label; blank lines and # comments are ignored; a device
listed twice counts once. Any other line fails the grant, naming the line,
before anything is written.

A device that already has an envelope keeps it. --prune removes the
envelopes of devices not in the file (a revoked device is not granted the
next version; pruning also withdraws its envelope for this one).

The content key comes from the store under --keys, decrypted with the
passphrase from --content-passphrase-file, $MREPO_CONTENT_PASSPHRASE or a
terminal prompt. Refused (exit 1, nothing written): a version that is not
published, not encrypted, or whose delivery is not "device". See
docs/encryption.md.`,
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
			devices, err := readDevices(c.String("devices"))
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			r, err := openRepo(c)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			store, err := contentKeyStore(c, false)()
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			opts := grant.Options{Devices: devices, Prune: c.Bool("prune"), Progress: grantProgress(c)}
			res, err := grant.Grant(r, store, model, version, opts)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			fmt.Fprintf(c.App.Writer, "%s %s: %d devices: %d envelopes written, %d kept, %d pruned (%s of envelopes, %.1f s)\n",
				res.ModelID, res.Version, res.Devices, res.Granted, res.Kept, res.Pruned, cliutil.HumanBytes(res.Bytes), res.Seconds)
			return nil
		},
	})
}

// readDevices reads and parses a devices file (modelcrypt.ParseDevices).
func readDevices(path string) ([]modelcrypt.Device, error) {
	data, err := readBounded(path, maxDevicesFile)
	if err != nil {
		return nil, err
	}
	ds, err := modelcrypt.ParseDevices(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ds, nil
}

// grantProgress draws a bar of envelopes written when stderr is a
// terminal (and logging is not quiet); nil otherwise.
func grantProgress(c *cli.Context) func(done, total int64) {
	if cliutil.Quiet(c) || !cliutil.IsTerminal(c.App.ErrWriter) {
		return nil
	}
	var bar *progressbar.ProgressBar
	return func(done, total int64) {
		if bar == nil {
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(c.App.ErrWriter),
				progressbar.OptionSetDescription("envelopes"),
				progressbar.OptionShowCount(),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(c.App.ErrWriter) }),
			)
		}
		bar.Set64(done)
	}
}
