// The rollout control commands: rollout set|halt, revoke, unrevoke,
// policy set|clear (docs/rollout.md); their flags are read by package
// controlflags.

package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/controlflags"
	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/telemetrycmd"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/urfave/cli/v2"
)

const controlsNote = `Every control is a signed field of the version's manifest target: the change
re-signs the role that signs it (targets, or the delegated role or hash bin
that owns the model, with that role's keys), then snapshot and timestamp.
No payload file is touched. See docs/rollout.md.`

func rolloutCommand() *cli.Command {
	return groupCommand("rollout", "stage a version to a percentage of devices, or halt its rollout",
		"mrepo rollout set --repo DIR --keys DIR --percent P [--cohort-salt S] [--device-class C]... [--start TIME] [--json] MODEL@VERSION\nmrepo rollout halt --repo DIR --keys DIR --reason TEXT [--json] MODEL@VERSION\nmrepo rollout report (--db URL | --collector URL) [--since TIME|DURATION] [--json] MODEL[@VERSION]\nmrepo rollout watch --max-rollback-rate R --min-reports N (--db URL | --collector URL) --repo DIR (--keys DIR | --stage) [--once] MODEL@VERSION",
		`A staged rollout lets only a share of the devices see a version: each device
falls into one of 10,000 cohort buckets (SHA-256 of the version's cohort salt
and its device ID, which never leaves the device), and takes the version only
if its bucket is below the rollout's percentage (0.01% steps). Raising the
percentage adds devices; lowering it, or a halt, stops devices that do not
have the version from taking it, while devices that run it keep it (revoke
the version to take it away: mrepo revoke).

`+controlsNote,
		rolloutSetCommand(), rolloutHaltCommand(), telemetrycmd.ReportCommand(), telemetrycmd.WatchCommand(telemetryRepo()))
}

// groupCommand is a command made of subcommands (rollout set|halt, policy
// set|clear).
func groupCommand(name, usage, usageText, desc string, subs ...*cli.Command) *cli.Command {
	return cliutil.Group("mrepo", &cli.Command{Name: name, Usage: usage, UsageText: usageText, Description: desc, Subcommands: subs})
}

// controlCommand sets up a command that changes one version's controls:
// flag errors and missing required flags are one line and exit 64, and
// the one argument is MODEL@VERSION (options may come before or after it).
// name is the command as typed after "mrepo" ("rollout set", "revoke").
func controlCommand(name string, required []string, cmd *cli.Command, run func(c *cli.Context, r *repo.Repository, model, version string) (*repo.ControlResult, error)) *cli.Command {
	required = append([]string{"repo", "keys"}, required...)
	cmd.Flags = append([]cli.Flag{repoFlag, keysFlag, passFlag, jsonFlag}, cmd.Flags...)
	cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return cliutil.Usagef("%s: %s (see mrepo %s --help)", name, cliutil.OneLine(err), name)
	}
	cmd.Action = func(c *cli.Context) error {
		for _, f := range required {
			if c.String(f) == "" {
				return cliutil.Usagef("%s: --%s is required (see mrepo %s --help)", name, f, name)
			}
		}
		if c.Args().Len() != 1 {
			return cliutil.Usagef("%s: expected exactly one MODEL@VERSION argument (see mrepo %s --help)", name, name)
		}
		model, version, err := rollout.ParseModelVersion(c.Args().First())
		if err != nil {
			return cliutil.Usagef("%s: %v", name, err)
		}
		var res *repo.ControlResult
		attempts, err := withRepo(c, keyDir(c), func(r *repo.Repository) (err error) {
			res, err = run(c, r, model, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		warn(c, res.Warnings)
		if c.Bool("json") {
			return writeResult(c, res, attempts)
		}
		report.ControlsChanged(c.App.Writer, res)
		return nil
	}
	return cmd
}

func rolloutSetCommand() *cli.Command {
	const name = "rollout set"
	return controlCommand(name, []string{"percent"}, &cli.Command{
		Name:      "set",
		Usage:     "let only a percentage of devices take a version (100: everyone)",
		UsageText: "mrepo rollout set --repo DIR --keys DIR --percent P [--cohort-salt S] [--device-class C]... [--all-device-classes] [--start TIME] [--no-start] [--json] MODEL@VERSION",
		Description: `Sets the staged rollout of a published version: only devices whose cohort
bucket is below --percent take it (0 to 100, at most two decimals: 0.01%
steps). A halted rollout resumes (its halt reason is removed).

The cohort salt makes the version's cohorts independent of other versions':
the first rollout of a version gets a random one (16 hex digits); later sets
keep it, so raising the percentage only adds devices. --cohort-salt S
replaces it (1-64 printable ASCII characters), which reshuffles the cohorts.

--device-class C (repeatable) limits the rollout to devices that declared
one of those classes at mclient init, and --start TIME (RFC 3339) hides the
version until then. Both are kept by later sets unless given again;
--all-device-classes and --no-start remove them.

--percent 100 without device classes or a start time is a full release: the
rollout control is removed from the version's metadata (a later rollout
picks a new salt unless --cohort-salt is given).

` + controlsNote,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "percent", Usage: "share of devices in `PERCENT` (0-100, up to two decimals; required)"},
			&cli.StringFlag{Name: "cohort-salt", Usage: "replace the version's cohort salt with `SALT` (default: keep it, or a random one)"},
			&cli.StringSliceFlag{Name: "device-class", Usage: "limit the rollout to devices of `CLASS` (repeatable; replaces the current list)"},
			&cli.BoolFlag{Name: "all-device-classes", Usage: "remove the device class limit"},
			&cli.StringFlag{Name: "start", Usage: "devices take the version from `TIME` on (RFC 3339)"},
			&cli.BoolFlag{Name: "no-start", Usage: "remove the start time"},
		},
	}, func(c *cli.Context, r *repo.Repository, model, version string) (*repo.ControlResult, error) {
		opts, err := controlflags.RolloutSet(c, name)
		if err != nil {
			return nil, err
		}
		return r.ChangeControls(model, version, keyDir(c), rollout.Set(opts))
	})
}

func rolloutHaltCommand() *cli.Command {
	const name = "rollout halt"
	return controlCommand(name, []string{"reason"}, &cli.Command{
		Name:      "halt",
		Usage:     "stop a version's rollout: no device that lacks it takes it",
		UsageText: "mrepo rollout halt --repo DIR --keys DIR --reason TEXT [--json] MODEL@VERSION",
		Description: `Halts the rollout of a published version: 0% with the reason recorded, so no
device that does not have the version takes it. Devices that already run it
keep it: to take it away from them, revoke it (mrepo revoke). The cohort
salt, device classes and start time are kept, so "mrepo rollout set" resumes
with the same cohorts.

` + controlsNote,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "reason", Usage: "why the rollout is halted, recorded in the signed metadata (`TEXT`, required)"},
		},
	}, func(c *cli.Context, r *repo.Repository, model, version string) (*repo.ControlResult, error) {
		reason, err := controlflags.Reason(c, name)
		if err != nil {
			return nil, err
		}
		change, err := rollout.Halt(reason)
		if err != nil {
			return nil, err
		}
		return r.ChangeControls(model, version, keyDir(c), change)
	})
}

func revokeCommand() *cli.Command {
	const name = "revoke"
	return controlCommand(name, []string{"reason"}, &cli.Command{
		Name:      "revoke",
		Usage:     "the kill switch: take a version away from every device",
		UsageText: "mrepo revoke --repo DIR --keys DIR --reason TEXT [--allow-no-model] [--json] MODEL@VERSION",
		Description: `Revokes a published version, with the reason and the time recorded. Devices
never select a revoked version; a device that has it downloaded or staged
discards it; a device that runs it goes back to the newest version it has
installed that is not revoked (or, if none, the newest eligible published
one), even below its anti-rollback floor: the signed revocation permits
exactly that one step down.

Refused (exit 1, nothing changed): a version that is revoked already, and
the last version of the model that is not revoked, which would leave
devices without the model, unless --allow-no-model.

mrepo unrevoke lifts a revocation.

` + controlsNote,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "reason", Usage: "why the version is revoked, recorded in the signed metadata (`TEXT`, required)"},
			&cli.BoolFlag{Name: "allow-no-model", Usage: "revoke even the model's last non-revoked version"},
		},
	}, func(c *cli.Context, r *repo.Repository, model, version string) (*repo.ControlResult, error) {
		reason, err := controlflags.Reason(c, name)
		if err != nil {
			return nil, err
		}
		change, err := rollout.Revoke(rollout.RevokeOptions{Reason: reason, AllowNoModel: c.Bool("allow-no-model")})
		if err != nil {
			return nil, err
		}
		return r.ChangeControls(model, version, keyDir(c), change)
	})
}

func unrevokeCommand() *cli.Command {
	return controlCommand("unrevoke", nil, &cli.Command{
		Name:      "unrevoke",
		Usage:     "lift a version's revocation",
		UsageText: "mrepo unrevoke --repo DIR --keys DIR [--json] MODEL@VERSION",
		Description: `Removes the revocation of a version (a signed change like any other):
devices may take it again, as its rollout (kept as it was before the
revocation) allows. A version that is not revoked is refused (exit 1).

` + controlsNote,
	}, func(c *cli.Context, r *repo.Repository, model, version string) (*repo.ControlResult, error) {
		return r.ChangeControls(model, version, keyDir(c), rollout.Unrevoke())
	})
}

func policyCommand() *cli.Command {
	return groupCommand("policy", "set or clear the conditions a device must meet to download a version",
		"mrepo policy set --repo DIR --keys DIR [--unmetered-above SIZE] [--min-battery PERCENT] [--network TYPE]... [--json] MODEL@VERSION\nmrepo policy clear --repo DIR --keys DIR [--json] MODEL@VERSION",
		`A version's download policy is checked by the device, from the state its app
reports (mclient update --battery, --network, ...), before any byte of the
version is downloaded; a device that does not meet it defers the update
(exit 75, DEFERRED_*). The device's own user settings can only be stricter.

`+controlsNote,
		policySetCommand(), policyClearCommand())
}

func policySetCommand() *cli.Command {
	const name = "policy set"
	return controlCommand(name, nil, &cli.Command{
		Name:      "set",
		Usage:     "set the conditions a device must meet to download a version",
		UsageText: "mrepo policy set --repo DIR --keys DIR [--unmetered-above SIZE] [--min-battery PERCENT] [--network TYPE]... [--json] MODEL@VERSION",
		Description: `Replaces the version's download policy with the conditions given (at least
one): --unmetered-above SIZE (a larger download needs an unmetered network),
--min-battery PERCENT (unless charging), --network TYPE (repeatable: the
network types a download may use). mrepo policy clear removes it.

` + controlsNote,
		Flags: controlflags.PolicyFlags(""),
	}, func(c *cli.Context, r *repo.Repository, model, version string) (*repo.ControlResult, error) {
		p, err := controlflags.Policy(c, name, "")
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, cliutil.Usagef("%s: give at least one of --unmetered-above, --min-battery, --network (mrepo policy clear removes the policy)", name)
		}
		return r.ChangeControls(model, version, keyDir(c), rollout.SetPolicy(p))
	})
}

func policyClearCommand() *cli.Command {
	return controlCommand("policy clear", nil, &cli.Command{
		Name:        "clear",
		Usage:       "remove a version's download policy",
		UsageText:   "mrepo policy clear --repo DIR --keys DIR [--json] MODEL@VERSION",
		Description: "Removes the version's download policy: any device may download it.\n\n" + controlsNote,
	}, func(c *cli.Context, r *repo.Repository, model, version string) (*repo.ControlResult, error) {
		return r.ChangeControls(model, version, keyDir(c), rollout.SetPolicy(nil))
	})
}
