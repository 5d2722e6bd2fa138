// The re-signing commands: timestamp, snapshot and targets (with targets
// --role for delegated roles).

package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/urfave/cli/v2"
)

func resignCommand(name, usage, desc string, fn func(*repo.Repository, keys.Keyring) (*repo.Versions, error)) *cli.Command {
	return command([]string{"repo", "keys"}, &cli.Command{
		Name:        name,
		Usage:       usage,
		UsageText:   fmt.Sprintf("mrepo %s --repo DIR --keys DIR", name),
		Description: desc,
		Flags:       []cli.Flag{repoFlag, keysFlag, passFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			var v *repo.Versions
			kd := keyDir(c)
			attempts, err := withRepo(c, kd, func(r *repo.Repository) (err error) {
				v, err = fn(r, kd)
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if c.Bool("json") {
				return writeResult(c, v, attempts)
			}
			switch name { // say exactly what was re-signed
			case "timestamp":
				fmt.Fprintf(c.App.Writer, "Signed timestamp v%d (snapshot v%d)\n", v.Timestamp, v.Snapshot)
			case "snapshot":
				fmt.Fprintf(c.App.Writer, "Signed snapshot v%d, timestamp v%d\n", v.Snapshot, v.Timestamp)
			default:
				fmt.Fprintf(c.App.Writer, "Signed targets v%d, snapshot v%d, timestamp v%d\n", v.Targets, v.Snapshot, v.Timestamp)
			}
			return nil
		},
	})
}

func timestampCommand() *cli.Command {
	return resignCommand("timestamp", "re-sign the timestamp with a fresh expiry (run from cron)",
		`Writes a new timestamp version with the configured timestamp lifetime. Run it
well within that lifetime (for a 1-day timestamp, every few hours) so devices
never see an expired timestamp. Needs only the timestamp key.`,
		(*repo.Repository).Timestamp)
}

func snapshotCommand() *cli.Command {
	return resignCommand("snapshot", "re-sign the snapshot (and timestamp) with fresh expiries",
		`Writes a new snapshot version with the configured snapshot lifetime, then a
new timestamp pointing at it. Needs the snapshot and timestamp keys.`,
		(*repo.Repository).Snapshot)
}

func targetsCommand() *cli.Command {
	return withRoleResign(resignCommand("targets", "re-sign the targets metadata (and snapshot, timestamp) with fresh expiries",
		`Writes a new targets metadata version with the same targets and the
configured targets lifetime, then a new snapshot and timestamp. Publishing
does this too; run it from cron if the repository may go longer than the
targets lifetime without a publication. Needs the targets, snapshot and
timestamp keys.`,
		(*repo.Repository).Targets))
}

// withRoleResign adds --role and --after-key-change to mrepo targets:
// with --role, it re-signs a delegated role (or every hash bin) instead.
func withRoleResign(cmd *cli.Command) *cli.Command {
	cmd.UsageText += " [--role ROLE [--after-key-change]]"
	cmd.Description += `

With --role ROLE, re-signs the delegated role ROLE instead (the same targets,
a fresh expiry, the role's own keys from --keys; then snapshot and
timestamp): a team runs it before its role expires, and to sign the first,
empty version of a new role. --role PREFIX re-signs every hash bin. After its
keys were replaced (mrepo delegate --replace-keys), a role's metadata is no
longer signed by its keys and is refused unless --after-key-change is
given: review its targets first.`
	cmd.Flags = append(cmd.Flags,
		&cli.StringFlag{Name: "role", Usage: "re-sign the delegated role `ROLE` (or, with hash bins, their name prefix: every bin)"},
		&cli.BoolFlag{Name: "after-key-change", Usage: "with --role: re-sign metadata its replaced keys signed (review its targets first)"})
	plain := cmd.Action
	cmd.Action = func(c *cli.Context) error {
		if !c.IsSet("role") {
			if c.Bool("after-key-change") {
				return cliutil.Usagef("targets: --after-key-change needs --role")
			}
			return plain(c)
		}
		if err := needNoArgs(c); err != nil {
			return err
		}
		var res *repo.ResignResult
		kd := keyDir(c)
		attempts, err := withRepo(c, kd, func(r *repo.Repository) (err error) {
			res, err = r.ResignRole(c.String("role"), kd, repo.ResignOptions{AfterKeyChange: c.Bool("after-key-change")})
			return err
		})
		if err != nil {
			return fmt.Errorf("targets: %w", err)
		}
		warn(c, res.Warnings)
		if c.Bool("json") {
			return writeResult(c, res, attempts)
		}
		report.ResignedRoles(c.App.Writer, res)
		return nil
	}
	return cmd
}
