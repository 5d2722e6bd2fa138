package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

func signCommand() *cli.Command {
	return command([]string{"role"}, &cli.Command{
		Name:      "sign",
		Usage:     "add a key holder's signature to staged metadata",
		UsageText: "mrepo sign --role ROLE (--key KEYFILE | --keys DIR) (--repo DIR | --staged FILE) [--json]",
		Description: `Signs the staged version of ROLE (DIR/staged/ROLE.json, or a copy given with
--staged) with the key in KEYFILE, or with every key in --keys DIR that may
sign it, and writes the file back with the signature added (an older
signature by the same key is replaced). Needs nothing but the staged file and
the key: run it on an air-gapped machine.

Before asking for the passphrase, prints what is being signed: the version,
the expiry and, for a root, every role's keys and threshold (and, with
--repo, the changes from the current root). Check them against what was
agreed. With --repo the key must be one that counts (a root key of the
current or the staged root; for other roles a key of the role), and the
thresholds still unmet are printed.`,
		Flags: []cli.Flag{roleFlag, repoFlag, stagedFlag, passFlag, jsonFlag,
			&cli.StringFlag{Name: "key", Usage: "sign with the key in `KEYFILE` (NAME.key)"},
			optKeysFlag,
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			role, err := roleArg(c)
			if err != nil {
				return err
			}
			if err := stagedTarget(c); err != nil {
				return err
			}
			if (c.String("key") == "") == (c.String("keys") == "") {
				return cliutil.Usagef("sign: give exactly one of --key KEYFILE and --keys DIR (see mrepo sign --help)")
			}
			var kr keys.Keyring
			var opts staged.SignOptions
			names := map[string]string{}
			if p := c.String("key"); p != "" {
				pp := passphraseSource(c)
				fk, err := keys.OpenKeyFile(p, pp.Get)
				if err != nil {
					return fmt.Errorf("sign: %w", err)
				}
				kr, opts.KeyIDs = &retryKeyring{kr: fk, pp: pp}, []string{fk.KeyID()}
				names[fk.KeyID()] = fk.Name()
			} else {
				kd := keyDir(c)
				if list, err := kd.List(); err == nil {
					for _, f := range list {
						names[f.KeyID] = f.Name
					}
				}
				kr = kd
			}
			quiet := c.Bool("json")
			opts.Describe = func(summary []string) {
				if quiet {
					return
				}
				fmt.Fprintf(c.App.Writer, "Signing %s:\n", summary[0])
				for _, l := range summary[1:] {
					fmt.Fprintln(c.App.Writer, l)
				}
			}
			var res *staged.SignResult
			if c.String("repo") != "" {
				_, err = withRepo(c, nil, func(r *repo.Repository) (err error) {
					res, err = r.SignStaged(role, kr, opts)
					return err
				})
				if err != nil {
					return fmt.Errorf("sign: %w", err)
				}
			} else {
				res, err = staged.SignFile(afero.NewOsFs(), c.String("staged"), role, kr, opts)
				if err != nil {
					return fmt.Errorf("sign: %w", err)
				}
			}
			warn(c, res.Warnings)
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			w := c.App.Writer
			for _, id := range res.Signed {
				if names[id] == "" {
					fmt.Fprintf(w, "Signed %s v%d with key %s\n", res.Role, res.Version, keys.ShortID(id))
				} else {
					fmt.Fprintf(w, "Signed %s v%d with key %s (%s)\n", res.Role, res.Version, names[id], keys.ShortID(id))
				}
			}
			fmt.Fprintf(w, "Wrote %s\n", res.File)
			report.Signatures(w, res.Signatures)
			return nil
		},
	})
}
