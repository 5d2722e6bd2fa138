package main

import (
	"fmt"
	"time"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

func initCommand() *cli.Command {
	return command([]string{"repo", "keys"}, &cli.Command{
		Name:      "init",
		Usage:     "run the key ceremony and create a new repository",
		UsageText: "mrepo init --repo DIR --keys DIR [--root-keys N] [--root-threshold K] [--key-type ed25519|ecdsa-p256]",
		Description: `Generates N root keys (K of which must sign every new root) and one key each
for the targets, snapshot and timestamp roles, writes them encrypted into the
keys directory (mode 0600), and writes version 1 of every role's metadata with
consistent snapshots. Prints the root key IDs and the SHA-256 of
metadata/1.root.json: pin that file (or digest) into device images.

The online keys (targets, snapshot, timestamp) share one passphrase; each
root key gets its own when prompted on a terminal (with --passphrase-file or
MREPO_PASSPHRASE every key gets the same one). After the ceremony, move each
root-N.key to its holder's offline storage; see docs/key-ceremony.md.

Refuses to overwrite an existing repository or existing key files.`,
		Flags: []cli.Flag{
			repoFlag, keysFlag, passFlag,
			&cli.IntFlag{Name: "root-keys", Value: 1, Usage: "number of root keys to generate"},
			&cli.IntFlag{Name: "root-threshold", Value: 1, Usage: "number of root keys that must sign a root"},
			&cli.StringFlag{Name: "key-type", Value: string(keys.Ed25519), Usage: "key algorithm: ed25519 or ecdsa-p256"},
			durationFlag("root-expires", duration.Format(time.Duration(repo.DefaultExpiry.Root)), "root metadata lifetime"),
			durationFlag("targets-expires", duration.Format(time.Duration(repo.DefaultExpiry.Targets)), "targets metadata lifetime"),
			durationFlag("snapshot-expires", duration.Format(time.Duration(repo.DefaultExpiry.Snapshot)), "snapshot metadata lifetime"),
			durationFlag("timestamp-expires", duration.Format(time.Duration(repo.DefaultExpiry.Timestamp)), "timestamp metadata lifetime (bounds how long a freeze attack can last)"),
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			kt, err := keys.ParseType(c.String("key-type"))
			if err != nil {
				return cliutil.Usagef("init: --key-type: %v", err)
			}
			var exp repo.Expiry
			for _, f := range []struct {
				name string
				dst  *duration.Duration
			}{{"root-expires", &exp.Root}, {"targets-expires", &exp.Targets}, {"snapshot-expires", &exp.Snapshot}, {"timestamp-expires", &exp.Timestamp}} {
				if *f.dst, err = parseDurationFlag(c, f.name); err != nil {
					return err
				}
			}
			// Zero would mean "default" to repo.Init; on the command line an
			// explicit 0 is a mistake. Bad options are usage errors (exit 64).
			opts := repo.InitOptions{RootKeys: c.Int("root-keys"), RootThreshold: c.Int("root-threshold"), KeyType: kt, Expiry: &exp}
			if err := repo.ValidateInitOptions(opts); err != nil {
				return cliutil.Usagef("init: %v", err)
			}
			var res *repo.InitResult
			attempts := 1
			if loc := c.String("repo"); repoIsURL(c) {
				// A stateless runner: the keys stay local, the repository is
				// created in the bucket (the root to pin is read from there).
				attempts, err = publish(c, nil, func(fs afero.Fs, dir string) (err error) {
					res, err = repo.Init(fs, dir, keyDir(c).Dir, opts)
					return err
				})
				if res != nil {
					res.Repository, res.RootFile = loc, repoLoc(c).ObjectURL(repo.MetadataDir+"/1.root.json")
				}
			} else {
				res, err = repo.Init(afero.NewOsFs(), loc, keyDir(c).Dir, opts)
			}
			if err != nil {
				return fmt.Errorf("init: %w", err)
			}
			if c.Bool("json") {
				return writeResult(c, res, attempts)
			}
			report.Initialized(c.App.Writer, res, c.String("keys"), string(kt))
			return nil
		},
	})
}
